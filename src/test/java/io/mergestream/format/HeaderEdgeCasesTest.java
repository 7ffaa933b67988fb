package io.mergestream.format;

import io.mergestream.format.checkpoint.Checkpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.Names;
import io.mergestream.Warnings;
import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.format.safetensors.SafetensorsHeader;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the streaming header parser and the checkpoint layout rules must get right beyond the committed
 * malformed fixtures: UTF-8 exactly as strictly as the reference, metadata decoded on demand, names with
 * control characters shown escaped, both layouts in one directory, a model without tensors.
 */
class HeaderEdgeCasesTest {

    @TempDir
    Path dir;

    /** An 8-byte little-endian length, the header bytes, then {@code dataBytes} zero bytes. */
    static byte[] safetensors(byte[] header, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        return b.array();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private Path write(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    private static FormatException rejected(Path file) {
        return assertThrows(FormatException.class, () -> {
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                f.tensors();
            }
        });
    }

    // ------------------------------------------------------------------ UTF-8, as strict as Rust's from_utf8

    @Test
    void overlongAndSurrogateEncodingsAreNotUtf8() throws IOException {
        // C0 80 (an overlong NUL), ED A0 80 (an encoded surrogate) and F4 90 80 80 (above U+10FFFF) are all
        // refused by Rust's std::str::from_utf8 and by the JDK's decoder; Jackson 2.21's own decoder lets the
        // first and the last through, so a parser relying on it alone would accept files the reference refuses.
        for (byte[] bad : List.of(new byte[] {(byte) 0xC0, (byte) 0x80}, new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80})) {
            ByteArrayOutputStream h = new ByteArrayOutputStream();
            h.writeBytes(utf8("{\"w"));
            h.writeBytes(bad);
            h.writeBytes(utf8("\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"));
            Path f = write("bad.safetensors", safetensors(h.toByteArray(), 4));
            assertTrue(rejected(f).getMessage().endsWith("header is not valid UTF-8"), rejected(f).getMessage());
        }
        // while real multi-byte names are fine
        Path ok = write("ok.safetensors", safetensors(utf8("{\"wé→𝔁\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4));
        try (SafetensorsFile f = SafetensorsFile.open(ok)) {
            assertEquals("wé→𝔁", f.tensors().get(0).name());
        }
    }

    // ------------------------------------------------------------------ metadata, streamed past and decoded on demand

    @Test
    void metadataIsDecodedOnDemandWithEscapes() throws IOException {
        String header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a\\\"b\\\\c\\u00e9\\n\",\"big\":\"" + "x".repeat(1 << 20)
                + "\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        Path f = write("meta.safetensors", safetensors(utf8(header), 4));
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            Map<String, String> m = s.metadata();
            assertEquals(List.of("format", "note", "big"), new ArrayList<>(m.keySet()), "header order");
            assertEquals("pt", m.get("format"));
            assertEquals("a\"b\\cé\n", m.get("note"));
            assertEquals(1 << 20, m.get("big").length());
            assertEquals(1, s.tensors().size());
        }
    }

    @Test
    void nullMetadataAndUnknownTensorFieldsAreAcceptedAsTheReferenceDoes() throws IOException {
        String header = "{\"__metadata__\":null,\"w\":{\"extra\":{\"deep\":[1,{\"x\":null}]},\"dtype\":\"BF16\","
                + "\"data_offsets\":[0,4],\"shape\":[2]}}";
        Path f = write("extra.safetensors", safetensors(utf8(header), 4));
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals(Map.of(), s.metadata());
            assertEquals(new TensorInfo("w", DType.BF16, new long[] {2}, 0, 4), s.tensors().get(0));
        }
    }

    @Test
    void duplicateKeysInsideAnEntryOrTheMetadataAreErrors() throws IOException {
        Path f = write("dup.safetensors", safetensors(utf8(
                "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4));
        assertTrue(rejected(f).getMessage().endsWith("tensor 'w': duplicate key 'dtype'"), rejected(f).getMessage());
        Path g = write("dupmeta.safetensors", safetensors(utf8(
                "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4));
        assertTrue(rejected(g).getMessage().endsWith("__metadata__ has a duplicate key 'a'"), rejected(g).getMessage());
        Path h = write("dupmetakey.safetensors", safetensors(utf8(
                "{\"__metadata__\":{},\"__metadata__\":{},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4));
        assertTrue(rejected(h).getMessage().contains("duplicate tensor name: '__metadata__'"), rejected(h).getMessage());
    }

    @Test
    void integersBeyondALongAndStringsInShapesAreNotIntegers() throws IOException {
        Path f = write("big.safetensors", safetensors(utf8(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}"), 4));
        assertTrue(rejected(f).getMessage().endsWith("shape entry 18446744073709551616 is not an integer"), rejected(f).getMessage());
        Path g = write("str.safetensors", safetensors(utf8(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}"), 4));
        assertTrue(rejected(g).getMessage().endsWith("shape entry \"1\" is not an integer"), rejected(g).getMessage());
    }

    @Test
    void theParserReadsTheMappedBytesNotACopy() {
        // The same header parsed from a heap array and from the bytes of a mapped file gives the same tensors;
        // parse(Path, byte[], long) is the heap path, SafetensorsFile.open the mapped one (RoundTripTest et al.).
        byte[] h = utf8("{\"b\":{\"dtype\":\"F16\",\"shape\":[3,1],\"data_offsets\":[8,14]},"
                + "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}");
        SafetensorsHeader parsed = SafetensorsHeader.parse(dir.resolve("x"), h, 14);
        assertEquals(List.of(new TensorInfo("b", DType.F16, new long[] {3, 1}, 8, 14),
                new TensorInfo("a", DType.I64, new long[] {}, 0, 8)), parsed.tensors(), "header order kept");
    }

    // ------------------------------------------------------------------ names with control characters

    @Test
    void namesWithControlCharactersArePrintedEscaped() throws IOException {
        // JSON lets a tensor name hold a newline, an ESC or a bidi override; none may reach a message raw.
        String evil = "w\n\u001b[31mred\u202e\u0007";
        String header = "{\"" + evil.replace("\n", "\\n").replace("\u001b", "\\u001b").replace("\u0007", "\\u0007")
                + "\":{\"dtype\":\"F13\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        Path f = write("evil.safetensors", safetensors(utf8(header), 4));
        String msg = rejected(f).getMessage();
        assertEquals(f + ": tensor 'w\\n\\u001b[31mred\\u202e\\u0007': unknown dtype 'F13'", msg);
        assertEquals("a\\tb\\r\\u0000\\u0085\\u2028\\ud800x𝔁", Names.printable("a\tb\r\0\u0085\u2028\ud800x𝔁"));
        assertEquals("plain.name-0", Names.printable("plain.name-0"));
    }

    // ------------------------------------------------------------------ layout rules of a model directory

    @Test
    void bothSingleFileAndIndexLoadTheSingleFileWithOneWarning() throws IOException {
        Path model = Files.createDirectories(dir.resolve("both"));
        Random rnd = new Random(1);
        TestCheckpoints.write(model, List.of(TestCheckpoints.random(rnd, "single.only", DType.F32, 2)), Long.MAX_VALUE);
        // a complete, valid sharded layout beside it, with other tensors
        Path shards = Files.createDirectories(dir.resolve("sharded"));
        TestCheckpoints.write(shards, List.of(TestCheckpoints.random(rnd, "a", DType.F32, 4),
                TestCheckpoints.random(rnd, "b", DType.F32, 4)), 16);
        try (var s = Files.list(shards)) {
            for (Path p : s.toList()) Files.copy(p, model.resolve(p.getFileName()));
        }
        List<String> warnings = new ArrayList<>();
        Warnings.Listener previous = Warnings.set(warnings::add);
        try (Checkpoint c = Checkpoint.open(model)) {
            assertEquals(List.of("single.only"), c.tensors().stream().map(StoredTensor::name).toList());
        } finally {
            Warnings.set(previous);
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).startsWith(model + ": holds both model.safetensors and model.safetensors.index.json"),
                warnings.get(0));
    }

    @Test
    void aModelWithoutTensorsIsAnError() throws IOException {
        Path model = Files.createDirectories(dir.resolve("empty"));
        Files.write(model.resolve("model.safetensors"), safetensors(utf8("{\"__metadata__\":{\"format\":\"pt\"}}     "), 0));
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(model).close());
        assertEquals(model + ": holds no tensors", e.getMessage());
        Path file = write("empty.safetensors", safetensors(utf8("{}      "), 0));
        assertEquals(file + ": holds no tensors", assertThrows(FormatException.class, () -> Checkpoint.open(file).close()).getMessage());
    }

    @Test
    void aDirectoryNamedModelSafetensorsIsNamed() throws IOException {
        Path model = Files.createDirectories(dir.resolve("m"));
        Files.createDirectories(model.resolve("model.safetensors"));
        MergestreamException e = assertThrows(MergestreamException.class, () -> Checkpoint.open(model).close());
        assertTrue(e.getMessage().endsWith("model.safetensors: cannot read the safetensors file: it is a directory, not a regular file"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }
}
