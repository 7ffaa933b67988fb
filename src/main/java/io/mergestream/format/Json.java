package io.mergestream.format;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NumericNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.InputFiles;
import io.mergestream.Names;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PushbackReader;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** JSON as the Hugging Face tools write it: Python's {@code json.dumps(obj, indent=2)} plus a newline. */
public final class Json {

    public static final ObjectMapper MAPPER = new ObjectMapper();

    private static final ObjectWriter PRETTY;

    static {
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance()
                        .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                        .withObjectEmptySeparator("")
                        .withArrayEmptySeparator(""));
        printer.indentObjectsWith(indenter);
        printer.indentArraysWith(indenter);
        PRETTY = MAPPER.writer(printer);
    }

    private Json() {}

    public static String pretty(Object value) {
        try {
            return PRETTY.writeValueAsString(value) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@link #pretty}'s text of {@code value} to {@code file}, streamed (no String of it on the heap). */
    public static void writePretty(Path file, Object value) {
        try (java.io.OutputStream o = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            // the writer closes its target when done: the newline still goes after it, then this closes the file
            PRETTY.writeValue(new java.io.FilterOutputStream(o) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    flush();
                }
            }, value);
            o.write('\n');
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a JSON file of an input model (index, config, tokenizer files) into a tree whose floating-point
     * numbers are written back exactly as they were read ({@code 1e-05} stays {@code 1e-05}, {@code 10000.0}
     * stays {@code 10000.0}): Python writes floats with {@code repr}, and a config rewritten through Java's
     * {@code Double.toString} ({@code 1.0E-5}) would differ from its source in every number. Integers keep their
     * digits anyway (int, long or BigInteger nodes). The nodes are ordinary {@link DoubleNode}s to every reader;
     * only their serialisation differs. Only a regular file of at most {@link InputFiles#MAX_JSON_BYTES} is read
     * (checked before reading, see {@link InputFiles}). One value per file, as {@code json.loads} reads it: content
     * after it but whitespace is refused.
     */
    public static JsonNode read(Path file) {
        InputFiles.requireReadable(file, "JSON file", InputFiles.MAX_JSON_BYTES);
        // Decoded as UTF-8 here, strictly (the decoder reports malformed input), as Python reads these files:
        // given bytes, Jackson guesses the encoding from the first four, and read `{\0}\0` as "{}" (UTF-16LE), a
        // UTF-16 file with its BOM as JSON, and `{\0\0\0` as UTF-32 (an I/O error for bad input).
        try (PushbackReader in = new PushbackReader(new InputStreamReader(Files.newInputStream(file),
                StandardCharsets.UTF_8.newDecoder()), 1); JsonParser p = MAPPER.createParser(in)) {
            int c = in.read();
            if (c == '\uFEFF') {
                // transformers reads with open(..., encoding="utf-8") and json.loads, serde_json reads bytes: both
                // refuse a byte order mark; Jackson would say "Unexpected character" and print it invisibly
                throw new Malformed("starts with a byte order mark (EF BB BF), which the Hugging Face readers refuse");
            }
            if (c >= 0) in.unread(c);
            JsonToken first = p.nextToken();
            // json.loads("") raises "Expecting value": an empty config or tokenizer file is not an empty object
            if (first == null) throw new Malformed("the file is empty (no JSON value)");
            JsonNode tree = exactTree(p);
            // Python's json.loads (what wrote and what reads these files in the Hugging Face tools) refuses
            // "Extra data" after the value: a second object would otherwise be dropped without a word
            if (p.nextToken() != null) {
                throw new Malformed("extra data after the JSON value, at line " + p.currentLocation().getLineNr()
                        + ", column " + p.currentLocation().getColumnNr());
            }
            return tree;
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new FormatException(file, "is not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (Malformed e) {
            throw new FormatException(file, "is not valid JSON: " + e.getMessage());
        } catch (CharacterCodingException e) {
            throw new FormatException(file, "is not UTF-8 text (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + Names.printable(file) + ": " + e.getMessage(), e);
        }
    }

    /** Content the tree reader refuses (bad input, exit 2), told apart from a failure to read the file (exit 1). */
    private static final class Malformed extends IOException {
        Malformed(String message) {
            super(message);
        }
    }

    /** The value at the parser's current token, built as Jackson's tree would be but for the float nodes. */
    private static JsonNode exactTree(JsonParser p) throws IOException {
        JsonNodeFactory f = MAPPER.getNodeFactory();
        return switch (p.currentToken()) {
            case START_OBJECT -> {
                ObjectNode o = f.objectNode();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = wellFormed(p.currentName(), p);
                    p.nextToken();
                    o.set(name, exactTree(p));
                }
                yield o;
            }
            case START_ARRAY -> {
                ArrayNode a = f.arrayNode();
                while (p.nextToken() != JsonToken.END_ARRAY) a.add(exactTree(p));
                yield a;
            }
            case VALUE_NUMBER_FLOAT -> new ExactFloatNode(p.getDoubleValue(), p.getText());
            case VALUE_NUMBER_INT -> switch (p.getNumberType()) {
                case INT -> f.numberNode(p.getIntValue());
                case LONG -> f.numberNode(p.getLongValue());
                default -> f.numberNode(p.getBigIntegerValue());
            };
            case VALUE_STRING -> f.textNode(wellFormed(p.getText(), p));
            case VALUE_TRUE -> f.booleanNode(true);
            case VALUE_FALSE -> f.booleanNode(false);
            case VALUE_NULL -> f.nullNode();
            default -> throw new Malformed("unexpected " + p.currentToken() + " at " + p.currentLocation());
        };
    }

    /**
     * {@code s}, if every UTF-16 surrogate in it is paired: JSON's {@code \\ud800} escape can spell half a
     * character, which no UTF-8 file can hold, so a tree holding one could not be written back (the reference
     * readers, serde_json in Hugging Face's tokenizers and safetensors, refuse it too).
     */
    private static String wellFormed(String s, JsonParser p) throws IOException {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new Malformed("a string holds the unpaired UTF-16 surrogate \\u" + Integer.toHexString(c)
                        + ", which UTF-8 cannot encode (line " + p.currentLocation().getLineNr() + ")");
            }
        }
        return s;
    }

    /**
     * A float that serialises as the text it was read from; its value semantics are those of a
     * {@link DoubleNode} (whose serialisation is final, hence the delegation).
     */
    static final class ExactFloatNode extends NumericNode {
        private final DoubleNode value;
        private final String text;

        ExactFloatNode(double value, String text) {
            this.value = DoubleNode.valueOf(value);
            this.text = text;
        }

        @Override
        public void serialize(JsonGenerator g, SerializerProvider provider) throws IOException {
            g.writeNumber(text);
        }

        @Override
        public String asText() {
            return text;
        }

        @Override
        public JsonToken asToken() {
            return JsonToken.VALUE_NUMBER_FLOAT;
        }

        @Override
        public JsonParser.NumberType numberType() {
            return JsonParser.NumberType.DOUBLE;
        }

        @Override
        public boolean isFloatingPointNumber() {
            return true;
        }

        @Override
        public boolean isDouble() {
            return true;
        }

        @Override
        public Number numberValue() {
            return value.numberValue();
        }

        @Override
        public int intValue() {
            return value.intValue();
        }

        @Override
        public long longValue() {
            return value.longValue();
        }

        @Override
        public double doubleValue() {
            return value.doubleValue();
        }

        @Override
        public BigDecimal decimalValue() {
            return value.decimalValue();
        }

        @Override
        public BigInteger bigIntegerValue() {
            return value.bigIntegerValue();
        }

        @Override
        public boolean canConvertToInt() {
            return value.canConvertToInt();
        }

        @Override
        public boolean canConvertToLong() {
            return value.canConvertToLong();
        }

        @Override
        public boolean isNaN() {
            return value.isNaN();
        }

        @Override
        public boolean equals(Object o) {
            return o == this || (o instanceof ExactFloatNode e && e.text.equals(text))
                    || (o instanceof DoubleNode d && d.equals(value));
        }

        @Override
        public int hashCode() {
            return value.hashCode();
        }
    }
}
