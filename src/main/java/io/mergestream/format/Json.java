package io.mergestream.format;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.mergestream.InputFiles;
import io.mergestream.Names;
import java.io.IOException;
import java.io.UncheckedIOException;
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

    public static void writePretty(Path file, Object value) {
        try {
            Files.writeString(file, pretty(value), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads a JSON file of an input model (index, config, tokenizer files): only a regular file of at most
     * {@link InputFiles#MAX_JSON_BYTES} (checked before reading, see {@link InputFiles}).
     */
    public static JsonNode read(Path file) {
        InputFiles.requireReadable(file, "JSON file", InputFiles.MAX_JSON_BYTES);
        try {
            return MAPPER.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new FormatException(file, "is not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + Names.printable(file) + ": " + e.getMessage(), e);
        }
    }
}
