package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operations beside recipes that the library offers with the same {@link Merge} handle (DARE of one fine-tune,
 * conversion, delta packs written and applied), on the bundled tiny Llama family: each output checked against
 * something computed another way (the input's own bytes, the engine's DARE against the pack's decoder), and the
 * failures typed, one line, nothing written.
 */
class OperationsApiTest {

    static final Path FAMILY = MergeApiTest.FAMILY;
    static final String BASE = FAMILY.resolve("base").toString();
    static final String FT = FAMILY.resolve("ft1").toString();

    static MergeOptions options() {
        return MergeOptions.builder().threads(2).seed(42).build();
    }

    static Map<String, byte[]> shard(Path dir) throws IOException {
        return MergeApiTest.tensorsOf(Files.readAllBytes(dir.resolve("model.safetensors")));
    }

    static void assertSameTensors(Map<String, byte[]> expected, Map<String, byte[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String name : expected.keySet()) assertArrayEquals(expected.get(name), actual.get(name), name);
    }

    @Test
    void convertCopiesEveryTensorByteForByte(@TempDir Path tmp) throws IOException {
        // the input's own bytes, read from its file by its header (not through mergestream's reader)
        Map<String, byte[]> input = shard(FAMILY.resolve("ft1"));
        RunResult r = Merge.convert(FT, options()).run(tmp.resolve("out"));
        assertEquals(input.size(), r.tensors());
        assertSameTensors(input, shard(tmp.resolve("out")));
        String card = Files.readString(tmp.resolve("out/README.md"));
        assertTrue(card.contains("# Conversion of ft1"), card);
        assertTrue(card.contains("mergestream convert " + FT + " -o out"), card);
    }

    @Test
    void dareIntoMemoryIsTheDirectoryRunAndKeepsExcludedTensors(@TempDir Path tmp) throws IOException {
        DareRequest dare = DareRequest.builder(FT, 0.3).base(BASE).exclude(Pattern.compile("lm_head\\.")).build();
        RunResult r = Merge.dare(dare, options()).run(tmp.resolve("out"));
        assertEquals("dare", r.method());
        Map<String, byte[]> dir = shard(tmp.resolve("out"));
        Map<String, byte[]> ft = shard(FAMILY.resolve("ft1"));
        Map<String, byte[]> base = shard(FAMILY.resolve("base"));
        assertArrayEquals(ft.get("lm_head.weight"), dir.get("lm_head.weight"), "excluded: the fine-tune's own");
        String q = "model.layers.0.self_attn.q_proj.weight";
        assertFalse(java.util.Arrays.equals(ft.get(q), dir.get(q)), "sparsified: not the fine-tune");
        assertFalse(java.util.Arrays.equals(base.get(q), dir.get(q)), "sparsified: not the base either");
        try (InMemoryModel memory = new InMemoryModel()) {
            Merge.dare(dare, options()).run(memory);
            assertEquals(dir.keySet(), new HashSet<>(memory.names()));
            for (OutputTensor t : memory.tensors()) {
                assertArrayEquals(dir.get(t.name()), t.data().toArray(ValueLayout.JAVA_BYTE), t.name());
            }
        }
        String card = Files.readString(tmp.resolve("out/README.md"));
        assertTrue(card.contains("--density 0.3 --strategy random --exclude 'lm_head\\.' --seed 42 -o out"), card);
    }

    @Test
    void aPackAppliedToItsBaseIsTheDareRun(@TempDir Path tmp) throws IOException {
        // the engine's DARE (the kernels) against the pack's decoder (PackModel), for both strategies and a rescale
        // given to apply instead of the one the pack records
        for (DareRequest.Strategy s : DareRequest.Strategy.values()) {
            DareRequest packed = DareRequest.builder(FT, 0.4).base(BASE).strategy(s).build();
            Path pack = tmp.resolve(s + ".mspack");
            AtomicInteger finished = new AtomicInteger();
            MergeListener counting = new MergeListener() {
                @Override
                public void tensorFinished(String name, int index, int count) {
                    finished.incrementAndGet();
                }
            };
            PackResult p = Merge.dare(packed, MergeOptions.builder().threads(2).seed(42).listener(counting).build())
                    .writePack(pack, 0, 1000);
            assertEquals(Files.size(pack), p.packBytes());
            assertEquals(p.deltas() + p.wholes(), finished.get());
            assertTrue(p.ratio() < 1, "a pack is smaller than the model: " + p.ratio());

            Merge.dare(packed, options()).run(tmp.resolve(s + "-dare"));
            Merge.apply(BASE, pack, options()).run(tmp.resolve(s + "-apply"));
            assertSameTensors(shard(tmp.resolve(s + "-dare")), shard(tmp.resolve(s + "-apply")));

            DareRequest l1 = DareRequest.builder(FT, 0.4).base(BASE).strategy(s).rescale(DareRequest.Rescale.L1).build();
            Merge.dare(l1, options()).run(tmp.resolve(s + "-dare-l1"));
            Merge.apply(BASE, pack, DareRequest.Rescale.L1, options()).run(tmp.resolve(s + "-apply-l1"));
            assertSameTensors(shard(tmp.resolve(s + "-dare-l1")), shard(tmp.resolve(s + "-apply-l1")));
        }
    }

    @Test
    void badInputsAreTypedAndWriteNothing(@TempDir Path tmp) throws IOException {
        DareRequest missing = DareRequest.builder(tmp.resolve("nope").toString(), 0.5).base(BASE).build();
        BadInputException e = assertThrows(BadInputException.class, () -> Merge.dare(missing, options()).plan());
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());

        DareRequest dense = DareRequest.builder(FT, 1.5).base(BASE).build();
        assertTrue(assertThrows(BadInputException.class, () -> Merge.dare(dense, options()).run(tmp.resolve("o")))
                .getMessage().contains("outside (0, 1]"));
        assertFalse(Files.exists(tmp.resolve("o")));

        DareRequest weights = DareRequest.builder(FT, 0.5).target(DareRequest.Target.WEIGHTS).build();
        assertThrows(BadInputException.class, () -> Merge.dare(weights, options()).writePack(tmp.resolve("w.mspack"), 0));
        assertFalse(Files.exists(tmp.resolve("w.mspack")));

        Path foreign = Files.writeString(tmp.resolve("notes.mspack"), "my notes");
        DareRequest ok = DareRequest.builder(FT, 0.5).base(BASE).build();
        assertTrue(assertThrows(BadInputException.class, () -> Merge.dare(ok, options()).writePack(foreign, 0))
                .getMessage().contains("not written by mergestream"));
        assertEquals("my notes", Files.readString(foreign));

        assertThrows(IllegalStateException.class, () -> DareRequest.builder(FT, 0.5).build(), "the delta needs a base");
        Merge recipe = Merge.of(MergeRecipe.fromFile(MergeApiTest.RECIPES.resolve("ties.yml")), options());
        assertThrows(IllegalStateException.class, () -> recipe.writePack(tmp.resolve("r.mspack"), 0));
        assertThrows(IllegalArgumentException.class, () -> Merge.dare(ok, options()).writePack(tmp.resolve("x"), -1));
        assertThrows(BadCheckpointException.class, () -> Merge.apply(BASE, foreign, options()).plan());
        try (var files = Files.list(tmp)) {
            assertEquals(List.of("notes.mspack"), files.map(f -> f.getFileName().toString()).toList());
        }
    }

    @Test
    void aCancelledPackLeavesNoFile(@TempDir Path tmp) {
        DareRequest dare = DareRequest.builder(FT, 0.5).base(BASE).build();
        Merge[] self = new Merge[1];
        AtomicInteger started = new AtomicInteger();
        MergeListener cancelling = new MergeListener() {
            @Override
            public void tensorStarted(String name, int index, int count) {
                if (started.incrementAndGet() == 3) self[0].cancel();
            }
        };
        self[0] = Merge.dare(dare, MergeOptions.builder().threads(2).listener(cancelling).build());
        assertThrows(MergeCancelledException.class, () -> self[0].writePack(tmp.resolve("ft.mspack"), 0, 64));
        assertFalse(Files.exists(tmp.resolve("ft.mspack")));
        try (var files = Files.list(tmp)) {
            assertEquals(0, files.count(), "no temporary left beside it");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
