package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT LoRA adapters as models, end to end on the shared fixtures (../shared/fixtures/peft-lora: adapters of the
 * tiny-llama base and their merges computed in f64 and rounded once to bf16): an adapter merged into its base
 * ({@code linear}, weight 1) matches its expected model within one bf16 ulp on at most 0.1% of the elements; a
 * merge of LoRA fine-tunes equals, bit for bit, the same merge of the materialised fine-tunes, through the streamed
 * (dare_ties) and the materialised (ties) input paths, and whatever the threads and chunk size.
 */
class LoraMergeTest {

    static final Path FIXTURES = Path.of("..", "shared", "fixtures", "peft-lora").toAbsolutePath().normalize();
    static final Path BASE = Path.of("testdata", "tiny-llama", "base").toAbsolutePath();
    static final Path FT1 = Path.of("testdata", "tiny-llama", "ft1").toAbsolutePath();
    static final Path QV = FIXTURES.resolve("qv-r4");
    static final Path RS = FIXTURES.resolve("all-linear-r8-rslora");
    /** mergekit's BASE+ADAPTER */
    static final Path BASE_RS = Path.of(BASE + "+" + RS);

    @TempDir
    Path dir;

    /** linear of the one model, weight 1: the model itself, as a checkpoint. */
    private Path materialise(String model, boolean withBase, String out) throws Exception {
        String body = (withBase ? "base_model: BASE\n" : "") + "merge_method: linear\nmodels:\n  - model: " + model
                + "\n    parameters: {weight: 1.0}\n";
        return MergeRuns.merge(dir, MergeRuns.recipe(dir, out, body, Map.of("BASE", BASE)), out);
    }

    /**
     * Asserts that every tensor of {@code ours} equals {@code expected}'s but for at most 0.1% of the elements,
     * each of which differs by one unit in the last place; returns where they differ ("tensor#index").
     */
    static Set<String> assertWithinOneUlp(Path ours, Path expected) {
        Set<String> differing = new HashSet<>();
        long total = 0;
        try (Checkpoint a = Checkpoint.open(ours); Checkpoint b = Checkpoint.open(expected)) {
            assertEquals(b.tensorCount(), a.tensorCount(), "tensor count");
            for (StoredTensor e : b.tensors()) {
                StoredTensor g = a.tensor(e.name());
                assertEquals(e.info().dtype(), g.info().dtype(), e.name());
                assertTrue(e.info().sameShape(g.info().shape()), e.name());
                long n = e.info().elements();
                total += n;
                for (long i = 0; i < n; i++) {
                    int x = Float.floatToRawIntBits(TestModels.decode(g.data(), g.info().dtype(), i));
                    int y = Float.floatToRawIntBits(TestModels.decode(e.data(), e.info().dtype(), i));
                    if (x == y) continue;
                    // same sign, adjacent encodings: one ulp (bf16 keeps the top 16 bits of the f32)
                    int step = 1 << (e.info().dtype().byteSize() == 2 ? 16 : 0);
                    assertTrue((x ^ y) >= 0 && Math.abs(x - y) == step,
                            e.name() + "[" + i + "]: " + Float.intBitsToFloat(x) + " vs " + Float.intBitsToFloat(y));
                    differing.add(e.name() + "#" + i);
                }
            }
        }
        assertTrue(differing.size() <= 0.001 * total, differing.size() + " of " + total + " elements differ");
        return differing;
    }

    /** Where two checkpoints' tensors differ at all ("tensor#index"). */
    static Set<String> differences(Path x, Path y) {
        Set<String> d = new HashSet<>();
        try (Checkpoint a = Checkpoint.open(x); Checkpoint b = Checkpoint.open(y)) {
            for (StoredTensor e : b.tensors()) {
                StoredTensor g = a.tensor(e.name());
                long n = e.info().elements();
                for (long i = 0; i < n; i++) {
                    if (TestModels.decode(g.data(), g.info().dtype(), i) != TestModels.decode(e.data(), e.info().dtype(), i)) {
                        d.add(e.name() + "#" + i);
                    }
                }
            }
        }
        return d;
    }

    @Test
    void eachAdapterMergedIntoItsBaseMatchesItsExpectedModel() throws Exception {
        // a bare adapter directory takes the recipe's base_model (its base_model_name_or_path is a hub id)
        Path qv = materialise(QV.toString(), true, "qv");
        Set<String> qvDiff = assertWithinOneUlp(qv, FIXTURES.resolve("qv-r4.expected-merged"));
        // mergekit's BASE+ADAPTER
        Path rs = materialise(BASE + "+" + RS, false, "rs");
        Set<String> rsDiff = assertWithinOneUlp(rs, FIXTURES.resolve("all-linear-r8-rslora.expected-merged"));
        // untargeted tensors are the base's, bit for bit (k_proj is not a target of qv-r4)
        for (String d : differences(qv, BASE)) {
            assertTrue(d.contains("q_proj") || d.contains("v_proj"), "only targets change: " + d);
        }
        assertTrue(differences(qv, BASE).size() > 1000, "the adapter changed the targets");
        System.out.println("LoRA fixtures: qv-r4 " + qvDiff.size() + ", all-linear-r8-rslora " + rsDiff.size()
                + " elements 1 ulp from the f64 expectation");
    }

    @Test
    void aBinAdapterIsReadThroughTheCheckpointReader() throws Exception {
        // adapter_model.bin goes through Checkpoint.open: the PyTorch reader and its restricted unpickler
        Path recipe = MergeRuns.recipe(dir, "bin", "merge_method: linear\nmodels:\n  - model: BASE+"
                + FIXTURES.resolve("qv-r4-bin") + "\n    parameters: {weight: 1.0}\n", Map.of("BASE", BASE));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = Main.run("merge", recipe.toString(), "-o", dir.resolve("bin-out").toString(), "-q", "--force");
        } finally {
            System.setErr(old);
        }
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        assertWithinOneUlp(dir.resolve("bin-out"), FIXTURES.resolve("qv-r4-bin.expected-merged"));
    }

    private static final String DARE_TIES = """
            merge_method: dare_ties
            base_model: BASE
            parameters: {normalize: true}
            seed: 11
            models:
              - model: FT1
                parameters: {weight: 0.5, density: 0.6}
              - model: QV
                parameters: {weight: 0.3, density: 0.5}
              - model: RS
                parameters: {weight: 0.4, density: 0.7}
            """;

    @Test
    void dareTiesOfFullAndLoraFineTunesIsTheMergeOfTheirModels() throws Exception {
        Path qv = materialise(QV.toString(), true, "qv");
        Path rs = materialise(BASE + "+" + RS, false, "rs");
        Path lora = MergeRuns.merge(dir, MergeRuns.recipe(dir, "dt-lora", DARE_TIES,
                Map.of("BASE", BASE, "FT1", FT1, "QV", QV, "RS", BASE_RS)), "dt-lora");
        // the same merge of the fine-tunes written out: identical (the LoRA source gives exactly those elements)
        Path full = MergeRuns.merge(dir, MergeRuns.recipe(dir, "dt-full", DARE_TIES,
                Map.of("BASE", BASE, "FT1", FT1, "QV", qv, "RS", rs)), "dt-full");
        assertEquals(Set.of(), differences(lora, full));
        // against the reference built from the expected (f64) models: different only where an input differs
        Set<String> inputs = new HashSet<>(assertWithinOneUlp(qv, FIXTURES.resolve("qv-r4.expected-merged")));
        inputs.addAll(assertWithinOneUlp(rs, FIXTURES.resolve("all-linear-r8-rslora.expected-merged")));
        Path reference = MergeRuns.merge(dir, MergeRuns.recipe(dir, "dt-ref", DARE_TIES, Map.of("BASE", BASE, "FT1", FT1,
                "QV", FIXTURES.resolve("qv-r4.expected-merged"), "RS", FIXTURES.resolve("all-linear-r8-rslora.expected-merged"))),
                "dt-ref");
        Set<String> out = differences(lora, reference);
        out.removeAll(inputs);
        assertEquals(Set.of(), out, "elements that differ from the reference although no input does");
        // deterministic whatever the threads and chunk size, with computed inputs filled per chunk
        Path odd = MergeRuns.merge(dir, MergeRuns.recipe(dir, "dt-odd", DARE_TIES,
                Map.of("BASE", BASE, "FT1", FT1, "QV", QV, "RS", BASE_RS)), "dt-odd", "--chunk-size", "37",
                "--threads", "2");
        Path one = MergeRuns.merge(dir, MergeRuns.recipe(dir, "dt-one", DARE_TIES,
                Map.of("BASE", BASE, "FT1", FT1, "QV", QV, "RS", BASE_RS)), "dt-one", "--threads", "1");
        assertEquals(Set.of(), differences(odd, lora));
        assertEquals(Set.of(), differences(one, lora));
    }

    @Test
    void methodsReadingWholeTensorsGetTheMaterialisedLoraModel() throws Exception {
        Path qv = materialise(QV.toString(), true, "qv");
        Path rs = materialise(BASE + "+" + RS, false, "rs");
        for (String method : new String[] {"ties", "della", "slerp"}) {
            String body = method.equals("slerp")
                    ? "merge_method: slerp\nbase_model: BASE\nparameters: {t: 0.4}\nmodels:\n  - model: BASE\n  - model: QV\n"
                    : "merge_method: " + method + "\nbase_model: BASE\nmodels:\n  - model: QV\n    parameters: {weight: 0.6, density: 0.5}\n"
                            + "  - model: RS\n    parameters: {weight: 0.4, density: 0.4}\n";
            Path lora = MergeRuns.merge(dir, MergeRuns.recipe(dir, method + "-lora", body,
                    Map.of("BASE", BASE, "QV", QV, "RS", BASE_RS)), method + "-lora", "--chunk-size", "53");
            Path full = MergeRuns.merge(dir, MergeRuns.recipe(dir, method + "-full", body,
                    Map.of("BASE", BASE, "QV", qv, "RS", rs)), method + "-full");
            assertEquals(Set.of(), differences(lora, full), method);
        }
    }
}
