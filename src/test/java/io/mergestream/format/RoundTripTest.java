package io.mergestream.format;

import io.mergestream.format.checkpoint.Checkpoint;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.format.TestCheckpoints.Tensor;
import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Write with OutputLayout + ShardedWriter, read back with Checkpoint: nothing is lost or moved. */
class RoundTripTest {

    @TempDir
    Path tmp;

    /** Every dtype, odd shapes, a scalar, 0-element tensors; names not in dtype or size order. */
    static List<Tensor> allDtypes() {
        Random rnd = new Random(42);
        List<Tensor> ts = new ArrayList<>();
        long[][] shapes = {{3, 5}, {7}, {}, {2, 3, 5}, {0, 4}, {11, 1}, {1}, {13}};
        DType[] all = DType.values();
        for (int i = 0; i < all.length; i++) {
            long[] shape = shapes[i % shapes.length];
            ts.add(TestCheckpoints.random(rnd, "layers." + (all.length - i) + "." + all[i].name().toLowerCase(), all[i], shape));
        }
        ts.add(TestCheckpoints.random(rnd, "empty.f32", DType.F32, 0));
        ts.add(TestCheckpoints.random(rnd, "scalar.bf16", DType.BF16));
        ts.add(TestCheckpoints.random(rnd, "big.f32", DType.F32, 17, 9)); // 612 bytes
        return ts;
    }

    static long totalBytes(List<Tensor> ts) {
        return ts.stream().mapToLong(t -> t.bytes().length).sum();
    }

    private static void assertSameTensors(List<Tensor> expected, Map<String, Tensor> actual) {
        assertEquals(new TreeSet<>(expected.stream().map(Tensor::name).toList()), new TreeSet<>(actual.keySet()));
        for (Tensor e : expected) {
            Tensor a = actual.get(e.name());
            assertEquals(e.dtype(), a.dtype(), e.name());
            assertArrayEquals(e.shape(), a.shape(), e.name());
            assertArrayEquals(e.bytes(), a.bytes(), e.name());
        }
    }

    @ParameterizedTest(name = "max shard bytes {0}")
    @ValueSource(longs = {1_000_000, 700, 256, 64, 1})
    void everyDtypeSurvivesAtEveryShardSize(long maxShard) throws IOException {
        List<Tensor> ts = allDtypes();
        OutputLayout layout = TestCheckpoints.write(tmp, ts, maxShard);
        int n = layout.shards().size();
        List<String> files;
        try (Stream<Path> s = Files.list(tmp)) {
            files = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        if (maxShard >= totalBytes(ts)) {
            assertEquals(1, n);
            assertEquals(List.of(CheckpointFiles.SINGLE_FILE), files);
        } else {
            assertTrue(n > 1, "expected several shards, got " + n);
            List<String> expectedFiles = new ArrayList<>();
            for (int i = 1; i <= n; i++) expectedFiles.add(String.format("model-%05d-of-%05d.safetensors", i, n));
            expectedFiles.add(CheckpointFiles.INDEX_FILE);
            expectedFiles.sort(null);
            assertEquals(expectedFiles, files);
            checkIndex(ts, layout);
        }
        if (maxShard == 1) {
            // Every tensor is alone, except the 0-byte 'empty.f32', which still fits after the 1-byte F8_E5M2.
            assertEquals(ts.size() - 1, n);
            assertEquals(layout.shardIndexOf("layers.1.f8_e5m2"), layout.shardIndexOf("empty.f32"));
        }
        for (OutputLayout.Shard shard : layout.shards()) {
            assertTrue(shard.dataBytes() <= maxShard || shard.tensors().size() == 1,
                    shard.fileName() + " holds " + shard.dataBytes() + " bytes in several tensors");
            checkHeaderBytes(tmp.resolve(shard.fileName()));
        }
        try (Checkpoint c = Checkpoint.open(tmp)) {
            assertEquals(n, c.shards().size());
            assertSameTensors(ts, TestCheckpoints.readAll(c));
            for (TensorFile f : c.shards()) assertEquals(Map.of("format", "pt"), ((SafetensorsFile) f).metadata());
        }
    }

    @Test
    void tensorBiggerThanTheShardSizeGetsAShardOfItsOwn() {
        Random rnd = new Random(1);
        List<Tensor> ts = List.of(TestCheckpoints.random(rnd, "a", DType.F32, 4), // 16
                TestCheckpoints.random(rnd, "huge", DType.F32, 50), // 200
                TestCheckpoints.random(rnd, "c", DType.F32, 4), // 16
                TestCheckpoints.random(rnd, "d", DType.F32, 4)); // 16
        OutputLayout layout = TestCheckpoints.write(tmp, ts, 40);
        assertEquals(3, layout.shards().size());
        assertEquals(List.of("a"), layout.shards().get(0).tensors().stream().map(TensorInfo::name).toList());
        assertEquals(List.of("huge"), layout.shards().get(1).tensors().stream().map(TensorInfo::name).toList());
        assertEquals(List.of("c", "d"), layout.shards().get(2).tensors().stream().map(TensorInfo::name).toList());
        try (Checkpoint c = Checkpoint.open(tmp)) {
            assertEquals("model-00002-of-00003.safetensors", c.tensor("huge").shard().path().getFileName().toString());
            assertSameTensors(ts, TestCheckpoints.readAll(c));
        }
    }

    private void checkIndex(List<Tensor> ts, OutputLayout layout) {
        JsonNode index = Json.read(tmp.resolve(CheckpointFiles.INDEX_FILE));
        assertEquals(totalBytes(ts), index.get("metadata").get("total_size").asLong());
        JsonNode map = index.get("weight_map");
        assertEquals(ts.size(), map.size());
        List<String> keys = new ArrayList<>();
        for (Iterator<String> it = map.fieldNames(); it.hasNext(); ) keys.add(it.next());
        assertEquals(new ArrayList<>(new TreeSet<>(keys)), keys, "weight_map keys are sorted");
        for (Tensor t : ts) {
            String file = layout.shards().get(layout.shardIndexOf(t.name())).fileName();
            assertEquals(file, map.get(t.name()).asText(), t.name());
            try (SafetensorsFile f = SafetensorsFile.open(tmp.resolve(file))) {
                assertTrue(f.contains(t.name()), file + " lacks " + t.name());
            }
        }
    }

    /** The header length is a multiple of 8, the padding is spaces, the JSON starts with __metadata__. */
    private static void checkHeaderBytes(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        long len = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, len % 8, file + ": header length " + len);
        String header = new String(all, 8, (int) len, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\"},"), header);
        String trimmed = header.stripTrailing();
        assertTrue(trimmed.endsWith("}"), header);
        assertTrue(header.length() - trimmed.length() < 8, "at most 7 padding bytes");
        assertEquals(" ".repeat(header.length() - trimmed.length()), header.substring(trimmed.length()));
        assertFalse(trimmed.contains(" "), "compact JSON: " + trimmed);
    }

    @Test
    void smallFileIsByteForByteWhatTheReferenceWriterWrites() throws IOException {
        List<Tensor> ts = List.of(
                new Tensor("b", DType.I8, new long[] {3}, new byte[] {1, 2, 3}),
                new Tensor("s", DType.I8, new long[] {}, new byte[] {9}),
                new Tensor("a", DType.F32, new long[] {1}, new byte[] {10, 11, 12, 13}));
        TestCheckpoints.write(tmp, ts, 1 << 20);
        // F32 before I8 (dtype alignment descending), then by name; compact; 188 bytes + 4 spaces = 192.
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[4,7]},"
                + "\"s\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[7,8]}}    ";
        byte[] expected = MalformedFixtures.concat(
                new byte[] {(byte) 192, 0, 0, 0, 0, 0, 0, 0},
                json.getBytes(StandardCharsets.US_ASCII),
                new byte[] {10, 11, 12, 13, 1, 2, 3, 9});
        assertEquals(208, expected.length);
        assertArrayEquals(expected, Files.readAllBytes(tmp.resolve(CheckpointFiles.SINGLE_FILE)));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(1, s.count(), "a single shard has no index");
        }
    }

    @Test
    void readRewriteReadIsByteIdenticalPerTensor() throws IOException {
        List<Tensor> ts = allDtypes();
        Path first = Files.createDirectory(tmp.resolve("first"));
        Path second = Files.createDirectory(tmp.resolve("second"));
        TestCheckpoints.write(first, ts, 300);
        Map<String, Tensor> read1;
        try (Checkpoint c = Checkpoint.open(first)) {
            read1 = TestCheckpoints.readAll(c);
            // Re-write straight from the mapped shards, in checkpoint order, at another shard size.
            List<OutputLayout.Entry> entries = new ArrayList<>();
            for (StoredTensor t : c.tensors()) entries.add(new OutputLayout.Entry(t.name(), t.info().dtype(), t.info().shape()));
            OutputLayout layout = OutputLayout.plan(entries, 500);
            try (var w = io.mergestream.format.safetensors.ShardedWriter.create(second, layout)) {
                for (StoredTensor t : c.tensors()) w.write(t.name(), 0, t.data());
                w.finish();
            }
        }
        assertSameTensors(ts, read1);
        try (Checkpoint c = Checkpoint.open(second)) {
            Map<String, Tensor> read2 = TestCheckpoints.readAll(c);
            assertSameTensors(new ArrayList<>(read1.values()), read2);
        }
        // And the same layout twice gives identical files.
        Path third = Files.createDirectory(tmp.resolve("third"));
        TestCheckpoints.write(third, ts, 300);
        TreeMap<String, byte[]> a = new TreeMap<>();
        try (Stream<Path> s = Files.list(first)) {
            for (Path p : s.toList()) a.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        try (Stream<Path> s = Files.list(third)) {
            for (Path p : s.toList()) assertArrayEquals(a.remove(p.getFileName().toString()), Files.readAllBytes(p), p.toString());
        }
        assertTrue(a.isEmpty());
    }
}
