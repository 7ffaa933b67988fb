package io.mergestream.format.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.util.ByteBufferBackedInputStream;
import io.mergestream.Names;
import io.mergestream.format.FormatException;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The JSON header of a safetensors file, parsed and validated with the rules of the reference
 * implementation (huggingface/safetensors, {@code tensor.rs}): valid UTF-8; a JSON object and nothing but
 * whitespace after it; {@code __metadata__} maps strings to strings; no duplicate names; known dtypes;
 * non-negative shapes whose byte size does not overflow and equals the tensor's byte range; ranges contiguous
 * from 0 and covering the data section.
 *
 * <p>The header is read as a stream of JSON tokens straight from the mapped file: a legal header may be
 * 100 MB and hold hundreds of thousands of tensors, and neither a copy of its bytes, a String of it nor a
 * JSON tree fits the launcher's 128 MB heap next to a merge. What stays on the heap is columns: per tensor a
 * name (interned, so shared with the other models of a merge), a dtype byte, a shared shape array and an
 * offset, 17 bytes and the name where a {@link TensorInfo} (40 bytes) and a reference to it took 44; a
 * {@link TensorInfo} is made when {@link #tensors()} is read. Metadata values (which may be tens of MB, and nothing in a merge reads) are
 * checked to be strings while streaming past them and decoded only when {@link #metadata()} asks.
 */
public final class SafetensorsHeader {

    /** The reference implementation's cap on the header length. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    public static final String METADATA_KEY = "__metadata__";

    /**
     * No name or string in a legal header can be longer than the header; Jackson's defaults (20 M chars per
     * string, 50 K per name) would refuse legal files.
     */
    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength((int) MAX_HEADER_BYTES)
                    .maxNameLength((int) MAX_HEADER_BYTES)
                    .maxDocumentLength(MAX_HEADER_BYTES)
                    .build())
            // A symbol table of 300,000 distinct tensor names would duplicate them all for the parse's length.
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .build();

    private static final DType[] DTYPES = DType.values();

    private final Path file;
    private final Columns columns;
    private final List<TensorInfo> tensors;
    private final MemorySegment json;

    private SafetensorsHeader(Path file, Columns columns, MemorySegment json) {
        this.file = file;
        this.columns = columns;
        this.tensors = new Columns.View(columns);
        this.json = json;
    }

    /** Tensors in header order (each {@link TensorInfo} made on access: hold on to it rather than ask again). */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** The name of tensor {@code i} (header order), without making its {@link TensorInfo}. */
    public String name(int i) {
        return columns.names[i];
    }

    /**
     * The tensors as parallel arrays, grown while parsing, trimmed after. Shapes are shared
     * ({@link TensorInfo#sharedShape}): a model's 100,000 tensors have a few dozen shapes.
     */
    private static final class Columns {
        String[] names = new String[16];
        byte[] dtypes = new byte[16];
        long[][] shapes = new long[16][];
        long[] begins = new long[16];
        int size;

        void add(TensorInfo t) {
            if (size == names.length) {
                int n = size * 2;
                names = Arrays.copyOf(names, n);
                dtypes = Arrays.copyOf(dtypes, n);
                shapes = Arrays.copyOf(shapes, n);
                begins = Arrays.copyOf(begins, n);
            }
            names[size] = t.name();
            dtypes[size] = (byte) t.dtype().ordinal();
            shapes[size] = TensorInfo.sharedShape(t.shape());
            begins[size] = t.begin();
            size++;
        }

        Columns trimmed() {
            names = Arrays.copyOf(names, size);
            dtypes = Arrays.copyOf(dtypes, size);
            shapes = Arrays.copyOf(shapes, size);
            begins = Arrays.copyOf(begins, size);
            return this;
        }

        TensorInfo get(int i) {
            long[] shape = shapes[i];
            DType dtype = DTYPES[dtypes[i]];
            // the size was checked not to overflow when parsed
            return new TensorInfo(names[i], dtype, shape, begins[i], begins[i] + TensorInfo.elementCount(shape) * dtype.byteSize());
        }

        private static final class View extends java.util.AbstractList<TensorInfo> implements java.util.RandomAccess {
            private final Columns c;

            View(Columns c) {
                this.c = c;
            }

            @Override
            public TensorInfo get(int i) {
                java.util.Objects.checkIndex(i, c.size);
                return c.get(i);
            }

            @Override
            public int size() {
                return c.size;
            }
        }
    }

    /**
     * The {@code __metadata__} strings, in header order, decoded from the header bytes on each call (they were
     * validated when the header was parsed). The header's bytes must still be mapped (the file open).
     */
    public Map<String, String> metadata() {
        Map<String, String> out = new LinkedHashMap<>();
        try (JsonParser p = parser(json)) {
            p.nextToken();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                JsonToken v = p.nextToken();
                if (key.equals(METADATA_KEY) && v == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String k = p.currentName();
                        p.nextToken();
                        out.put(k, p.getText());
                    }
                } else {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the header of " + file + ": " + e.getMessage(), e);
        }
        return Collections.unmodifiableMap(out);
    }

    /** As {@link #parse(Path, MemorySegment, long)}, for header bytes on the heap (tests, small headers). */
    public static SafetensorsHeader parse(Path file, byte[] json, long dataBytes) {
        return parse(file, MemorySegment.ofArray(json), dataBytes);
    }

    /**
     * Parses {@code json} (the header bytes after the 8-byte length, usually a slice of the file's mapping,
     * which must stay mapped while {@link #metadata()} may be called) and checks every tensor against a data
     * section of {@code dataBytes} bytes. Tensors come back in header order.
     */
    public static SafetensorsHeader parse(Path file, MemorySegment json, long dataBytes) {
        // The reference decodes the whole header as UTF-8 before it parses JSON (std::str::from_utf8): so
        // here, with the JDK's strict decoder (it refuses overlong forms and code points above U+10FFFF, as
        // Rust's does, where Jackson's decoder lets them through), streamed through a small buffer.
        checkUtf8(file, json);
        if (json.byteSize() == 0 || json.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) != '{') {
            throw new FormatException(file, "header is not a JSON object (it must start with '{')");
        }
        if (json.byteSize() > 1 && json.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 1) == 0) {
            // Jackson guesses a byte stream's encoding from its first bytes, and '{' then NUL is UTF-16LE or
            // UTF-32LE to it: it would decode the UTF-8 header as such (an I/O error, or `{\0}\0` read as "{}").
            // A raw NUL is never valid JSON (serde_json refuses it), so refuse it before Jackson guesses.
            throw new FormatException(file, "header is not valid JSON: a NUL byte after the opening '{'");
        }
        Columns tensors = new Columns();
        try (JsonParser p = parser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new FormatException(file, "header is not a JSON object");
            }
            Set<String> names = new HashSet<>();
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                if (!names.add(name)) {
                    throw new FormatException(file, "header has a duplicate tensor name: '" + Names.printable(name) + "'");
                }
                p.nextToken();
                if (name.equals(METADATA_KEY)) {
                    readMetadata(file, p);
                } else {
                    // Interned: a base and its fine-tunes name the same 100,000 tensors, and one String
                    // per name instead of one per name and model saves ~90 bytes a tensor and model.
                    tensors.add(readTensor(file, name.intern(), p));
                }
            }
            if (t != JsonToken.END_OBJECT) {
                throw new FormatException(file, "header is not valid JSON: expected a tensor name, found " + t);
            }
            if (p.nextToken() != null) {
                // The reference parser (serde_json::from_str) accepts only whitespace after the object.
                throw new FormatException(file, "header is not valid JSON: unexpected text after the header object");
            }
        } catch (StreamConstraintsException e) {
            throw new FormatException(file, "header is not valid JSON: " + firstLine(e.getOriginalMessage()));
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage();
            throw new FormatException(file, "header is not valid JSON: " + firstLine(msg == null ? e.getMessage() : msg));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the header of " + file + ": " + e.getMessage(), e);
        }
        tensors.trimmed();
        checkLayout(file, new Columns.View(tensors), dataBytes);
        return new SafetensorsHeader(file, tensors, json);
    }

    private static JsonParser parser(MemorySegment json) throws IOException {
        return JSON.createParser(new ByteBufferBackedInputStream(json.asByteBuffer()));
    }

    private static final java.lang.foreign.ValueLayout.OfLong LONG = java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

    private static void checkUtf8(Path file, MemorySegment json) {
        // Headers are nearly always ASCII: skip 8 ASCII bytes at a time (the decoder's loop over a mapped
        // buffer goes byte by byte), and decode strictly from the first 8-byte block holding another byte.
        long n = json.byteSize();
        long at = 0;
        while (at + 8 <= n && (json.get(LONG, at) & 0x8080808080808080L) == 0) at += 8;
        while (at < n && json.get(java.lang.foreign.ValueLayout.JAVA_BYTE, at) >= 0) at++;
        if (at == n) return;
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = json.asSlice(at).asByteBuffer();
        CharBuffer out = CharBuffer.allocate(8192);
        CoderResult r;
        do {
            out.clear();
            r = decoder.decode(in, out, true);
            if (r.isError()) throw new FormatException(file, "header is not valid UTF-8");
        } while (r.isOverflow());
        do {
            out.clear();
            r = decoder.flush(out);
        } while (r.isOverflow());
    }

    /** {@code null}, or an object of strings; the values are skipped (checked, not kept): see {@link #metadata()}. */
    private static void readMetadata(Path file, JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        if (t == JsonToken.VALUE_NULL) return;
        if (t != JsonToken.START_OBJECT) {
            throw new FormatException(file, "__metadata__ must be an object of strings");
        }
        Set<String> keys = new HashSet<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (!keys.add(key)) {
                throw new FormatException(file, "__metadata__ has a duplicate key '" + Names.printable(key) + "'");
            }
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new FormatException(file, "__metadata__ value of '" + Names.printable(key) + "' is not a string");
            }
            // Not calling getText(): Jackson then skips the string (still checking its escapes) without
            // building it, so a 60 MB value costs no heap.
        }
    }

    private static TensorInfo readTensor(Path file, String name, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new FormatException(file, name, "entry is not an object with dtype, shape and data_offsets");
        }
        String dtypeName = null;
        long[] shape = null;
        long[] offsets = null;
        Set<String> keys = new HashSet<>(4);
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (!keys.add(key)) {
                throw new FormatException(file, name, "duplicate key '" + Names.printable(key) + "'");
            }
            JsonToken v = p.nextToken();
            switch (key) {
                case "dtype" -> {
                    if (v == JsonToken.VALUE_STRING) dtypeName = p.getText();
                    else p.skipChildren();
                }
                case "shape" -> shape = readLongs(file, name, p, "shape", -1);
                case "data_offsets" -> offsets = readLongs(file, name, p, "data_offsets", 2);
                // serde ignores unknown fields of a TensorInfo; skipChildren still parses (checks) them.
                default -> p.skipChildren();
            }
        }
        if (dtypeName == null) {
            throw new FormatException(file, name, "missing or non-string dtype");
        }
        String dn = dtypeName;
        DType dtype = DType.fromHeaderName(dn).orElseThrow(() ->
                new FormatException(file, name, "unknown dtype '" + Names.printable(dn) + "'"));
        if (shape == null) throw new FormatException(file, name, "missing or non-array shape");
        if (offsets == null) throw new FormatException(file, name, "missing or non-array data_offsets");
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw new FormatException(file, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        long needed;
        try {
            needed = Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new FormatException(file, name, "shape " + Arrays.toString(shape) + " overflows 64 bits");
        }
        if (end - begin != needed) {
            throw new FormatException(file, name, "data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + needed);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** The array at the parser's current token, every entry a non-negative integer that fits a long. */
    private static long[] readLongs(Path file, String name, JsonParser p, String key, int expectedLength) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new FormatException(file, name, "missing or non-array " + key);
        }
        long[] out = new long[4];
        int n = 0;
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            boolean fits = t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER;
            if (!fits) {
                String shown = t == JsonToken.VALUE_STRING ? "\"" + Names.printable(p.getText()) + "\""
                        : t.isScalarValue() ? p.getText() : t.asString() != null ? t.asString() : t.name();
                throw new FormatException(file, name, key + " entry " + shown + " is not an integer");
            }
            long v = p.getLongValue();
            if (v < 0) throw new FormatException(file, name, key + " entry " + v + " is negative");
            if (n == out.length) out = Arrays.copyOf(out, n * 2);
            out[n++] = v;
        }
        if (expectedLength >= 0 && n != expectedLength) {
            throw new FormatException(file, name, key + " must have " + expectedLength + " entries, has " + n);
        }
        return Arrays.copyOf(out, n);
    }

    /** Ranges sorted by offset must start at 0, follow each other without gap or overlap, and end at dataBytes. */
    private static void checkLayout(Path file, List<TensorInfo> tensors, long dataBytes) {
        List<TensorInfo> byOffset = tensors;
        if (!inOffsetOrder(tensors)) {
            // the usual header is already in data order: only other ones are sorted (and materialised) here
            TensorInfo[] sorted = tensors.toArray(new TensorInfo[0]);
            Arrays.sort(sorted, Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
            byOffset = Arrays.asList(sorted);
        }
        long expected = 0;
        String previous = null;
        for (TensorInfo t : byOffset) {
            if (t.begin() != expected) {
                String where = previous == null ? "the data section starts at 0"
                        : "'" + Names.printable(previous) + "' ends at " + expected;
                String kind = t.begin() < expected ? "overlaps" : "leaves a gap";
                throw new FormatException(file, t.name(), "data_offsets begin at " + t.begin() + " but " + where
                        + " (" + kind + ")");
            }
            expected = t.end();
            previous = t.name();
        }
        if (expected != dataBytes) {
            throw new FormatException(file, "tensors cover " + expected + " bytes of a " + dataBytes
                    + "-byte data section (the file is " + (expected > dataBytes ? "truncated" : "padded with unused bytes") + ")");
        }
    }

    private static boolean inOffsetOrder(List<TensorInfo> tensors) {
        long begin = -1, end = -1;
        for (TensorInfo t : tensors) {
            if (t.begin() < begin || (t.begin() == begin && t.end() < end)) return false;
            begin = t.begin();
            end = t.end();
        }
        return true;
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
