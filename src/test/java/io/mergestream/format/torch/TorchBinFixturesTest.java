package io.mergestream.format.torch;

import io.mergestream.format.CheckpointFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.FormatException;
import io.mergestream.format.Json;
import io.mergestream.format.StoredTensor;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The real checkpoints PyTorch 1.13's torch.save wrote from the tiny-llama family
 * ({@code ../shared/fixtures/torch-bin}, see its README): each reads to exactly the bytes of its safetensors
 * original, by the reader alone (no Python, no torch).
 */
class TorchBinFixturesTest {

    static final Path FIXTURES = Path.of("..", "shared", "fixtures", "torch-bin");
    static final Path TINY = Path.of("testdata", "tiny-llama");
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Same names (as sets), and per name the same dtype, shape and bytes. */
    static void assertSameTensors(Checkpoint expected, Checkpoint actual) {
        assertEquals(new TreeSet<>(names(expected)), new TreeSet<>(names(actual)), "tensor names");
        for (StoredTensor e : expected.tensors()) {
            StoredTensor a = actual.tensor(e.name());
            assertEquals(e.info().dtype(), a.info().dtype(), e.name());
            assertArrayEquals(e.info().shape(), a.info().shape(), e.name());
            assertEquals(-1, e.data().mismatch(a.data()), e.name() + ": bytes differ");
        }
    }

    static List<String> names(Checkpoint c) {
        List<String> out = new ArrayList<>();
        for (StoredTensor t : c.tensors()) out.add(t.name());
        return out;
    }

    @ParameterizedTest(name = "{0} = tiny-llama/{1}")
    @CsvSource({"base, base", "ft1, ft1", "ft2-sharded, ft2", "ft1-state-dict-metadata, ft1"})
    void readsToTheBytesOfTheSafetensorsOriginal(String fixture, String original) {
        try (Checkpoint bin = Checkpoint.open(FIXTURES.resolve(fixture));
             Checkpoint st = Checkpoint.open(TINY.resolve(original))) {
            assertEquals(21, bin.tensorCount());
            for (var f : bin.shards()) assertInstanceOf(TorchZipFile.class, f);
            assertSameTensors(st, bin);
            for (StoredTensor t : bin.tensors()) {
                // zero-copy: a slice of the file's mapping, not a heap or scratch copy
                assertTrue(t.data().isMapped(), t.name() + " is not a slice of the mapped file");
                assertTrue(t.data().isReadOnly(), t.name());
            }
        }
    }

    @Test
    void shardedLayoutFollowsItsIndex() {
        try (Checkpoint bin = Checkpoint.open(FIXTURES.resolve("ft2-sharded"))) {
            assertEquals(List.of("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"),
                    bin.shards().stream().map(f -> f.path().getFileName().toString()).toList());
            assertEquals("pytorch_model-00002-of-00002.bin",
                    bin.tensor("model.layers.0.self_attn.v_proj.weight").shard().path().getFileName().toString());
            assertEquals(10, bin.shards().get(0).tensors().size());
            assertEquals(11, bin.shards().get(1).tensors().size());
        }
    }

    /** torch converted bf16 to f16 through f32, rounding to nearest even: Float.floatToFloat16 does the same. */
    @Test
    void f16CheckpointHoldsTheBf16ValuesConverted() {
        try (Checkpoint f16 = Checkpoint.open(FIXTURES.resolve("ft1-f16"));
             Checkpoint bf16 = Checkpoint.open(TINY.resolve("ft1"))) {
            assertEquals(21, f16.tensorCount());
            for (StoredTensor b : bf16.tensors()) {
                StoredTensor h = f16.tensor(b.name());
                assertEquals(DType.F16, h.info().dtype(), b.name());
                long n = b.info().elements();
                assertEquals(n * 2, h.data().byteSize());
                for (long i = 0; i < n; i++) {
                    float v = Float.intBitsToFloat(b.data().get(I16, 2 * i) << 16);
                    assertEquals(Float.floatToFloat16(v), h.data().get(I16, 2 * i), b.name() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void f32CheckpointHoldsTheBf16ValuesWidened() {
        try (Checkpoint f32 = Checkpoint.open(FIXTURES.resolve("ft3-f32"));
             Checkpoint bf16 = Checkpoint.open(TINY.resolve("ft3"))) {
            for (StoredTensor b : bf16.tensors()) {
                StoredTensor w = f32.tensor(b.name());
                assertEquals(DType.F32, w.info().dtype(), b.name());
                for (long i = 0; i < b.info().elements(); i++) {
                    assertEquals(b.data().get(I16, 2 * i) << 16, w.data().get(I32, 4 * i), b.name() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void sharedStoragesAndStorageOffsetsAreHonoured() {
        try (Checkpoint bin = Checkpoint.open(FIXTURES.resolve("ft1-shared-storage"));
             Checkpoint expected = Checkpoint.open(FIXTURES.resolve("ft1-shared-storage.expected"))) {
            assertSameTensors(expected, bin);
            // one storage, two names: the very same mapped bytes
            MemorySegment head = bin.tensor("lm_head.weight").data();
            MemorySegment embed = bin.tensor("model.embed_tokens.weight").data();
            assertEquals(head.address(), embed.address());
            for (int layer = 0; layer < 2; layer++) {
                String p = "model.layers." + layer + ".self_attn.";
                MemorySegment q = bin.tensor(p + "q_proj.weight").data();
                MemorySegment k = bin.tensor(p + "k_proj.weight").data();
                MemorySegment v = bin.tensor(p + "v_proj.weight").data();
                // q, k, v follow each other in one fused storage: k and v at storage_offset > 0
                assertEquals(q.address() + q.byteSize(), k.address(), p + "k");
                assertEquals(k.address() + k.byteSize(), v.address(), p + "v");
            }
        }
    }

    @Test
    void stridedViewIsListedButRefusedWhenReadAndItsLayoutGivesTheValues() {
        String down = "model.layers.0.mlp.down_proj.weight";
        Path file = FIXTURES.resolve("ft1-strided").resolve("pytorch_model.bin");
        try (Checkpoint bin = Checkpoint.open(FIXTURES.resolve("ft1-strided"));
             Checkpoint ft1 = Checkpoint.open(TINY.resolve("ft1"))) {
            assertEquals(21, bin.tensorCount());
            StoredTensor t = bin.tensor(down);
            assertArrayEquals(new long[] {64, 128}, t.info().shape());
            for (Runnable read : List.<Runnable>of(t::checkReadable, t::data)) {
                FormatException e = assertThrows(FormatException.class, read::run);
                String msg = e.getMessage();
                assertFalse(msg.contains("\n"), msg);
                assertTrue(msg.contains(file.toString()) && msg.contains("tensor '" + down + "'")
                        && msg.contains("[1, 64]") && msg.contains("non-contiguous"), msg);
            }
            // every other tensor reads as ft1's
            for (StoredTensor e : ft1.tensors()) {
                if (e.name().equals(down)) continue;
                assertEquals(-1, e.data().mismatch(bin.tensor(e.name()).data()), e.name());
            }
            t.doneReading(true); // a tensor never served has nothing to release, and does not throw
            // the seam for a strided copy: element [r][c] is storage[offset + r*stride0 + c*stride1]
            TorchZipFile zip = (TorchZipFile) t.shard();
            TorchZipFile.Layout layout = zip.layout(t.info());
            assertFalse(layout.rowMajor());
            assertArrayEquals(new long[] {1, 64}, layout.strides());
            MemorySegment expected = ft1.tensor(down).data();
            MemorySegment storage = zip.storage(t.info());
            for (long r = 0; r < 64; r++) {
                for (long c = 0; c < 128; c++) {
                    long at = layout.storageOffset() + r * layout.strides()[0] + c * layout.strides()[1];
                    assertEquals(expected.get(I16, 2 * (r * 128 + c)), storage.get(I16, 2 * at), down + "[" + r + "][" + c + "]");
                }
            }
        }
    }

    @Test
    void legacyFormatIsRefusedWithHowToConvert() {
        Path file = FIXTURES.resolve("legacy-format").resolve("pytorch_model.bin");
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(file.getParent()).close());
        String msg = e.getMessage();
        assertFalse(msg.contains("\n"), msg);
        assertTrue(msg.startsWith(file.toString()), msg);
        assertTrue(msg.contains("legacy") && msg.contains("torch.save(torch.load(f, weights_only=True), f)"), msg);
    }

    /** The index rules of safetensors hold for pytorch_model.bin.index.json too. */
    @Test
    void binIndexMustAgreeWithItsShards(@TempDir Path tmp) throws IOException {
        Path src = FIXTURES.resolve("ft2-sharded");
        String s1 = "pytorch_model-00001-of-00002.bin";
        String s2 = "pytorch_model-00002-of-00002.bin";
        String v = "model.layers.0.self_attn.v_proj.weight"; // in shard 2
        ObjectNode index = (ObjectNode) Json.read(src.resolve(CheckpointFiles.BIN_INDEX_FILE));
        ObjectNode map = (ObjectNode) index.get("weight_map");

        Path wrong = copy(src, tmp.resolve("wrong-shard"), s1, s2);
        Json.writePretty(wrong.resolve(CheckpointFiles.BIN_INDEX_FILE), withEntry(index, map, v, s1));
        assertIndexRefused(wrong, "tensor '" + v + "'", "maps it to " + s1, "does not hold it");

        Path missingShard = copy(src, tmp.resolve("missing-shard"), s1);
        Json.writePretty(missingShard.resolve(CheckpointFiles.BIN_INDEX_FILE), index);
        assertIndexRefused(missingShard, "shard " + s2, "does not exist");

        Path unlisted = copy(src, tmp.resolve("unlisted"), s1, s2);
        ObjectNode less = index.deepCopy();
        ((ObjectNode) less.get("weight_map")).remove(v);
        Json.writePretty(unlisted.resolve(CheckpointFiles.BIN_INDEX_FILE), less);
        assertIndexRefused(unlisted, "tensor '" + v + "'", "missing from the index's weight_map");

        // the same tensors in both shards: shard 1 copied over shard 2's name
        Path twice = tmp.resolve("twice");
        Files.createDirectories(twice);
        Files.copy(src.resolve(s1), twice.resolve(s1));
        Files.copy(src.resolve(s1), twice.resolve(s2));
        Json.writePretty(twice.resolve(CheckpointFiles.BIN_INDEX_FILE), withEntry(index, map, v, s2));
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(twice).close());
        assertTrue(e.getMessage().contains("also stored in " + s1), e.getMessage());
    }

    private static ObjectNode withEntry(ObjectNode index, ObjectNode map, String tensor, String shard) {
        ObjectNode copy = index.deepCopy();
        ((ObjectNode) copy.get("weight_map")).put(tensor, shard);
        return copy;
    }

    private static Path copy(Path from, Path to, String... files) throws IOException {
        Files.createDirectories(to);
        for (String f : files) Files.copy(from.resolve(f), to.resolve(f));
        return to;
    }

    private static void assertIndexRefused(Path dir, String... words) {
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(dir).close());
        String msg = e.getMessage();
        assertFalse(msg.contains("\n"), msg);
        assertTrue(msg.contains(dir.toString()), msg);
        for (String w : words) assertTrue(msg.contains(w), "lacks '" + w + "': " + msg);
    }

    @Test
    void fixturesAreThere() {
        assertTrue(Files.isDirectory(FIXTURES), FIXTURES.toAbsolutePath() + " is missing (a clone beside ../shared)");
    }
}
