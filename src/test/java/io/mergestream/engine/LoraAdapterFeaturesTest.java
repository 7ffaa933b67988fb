package io.mergestream.engine;

import io.mergestream.parallel.ChunkRunner;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.TestModels;
import io.mergestream.analysis.DeltaStats;
import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.InputModel;
import io.mergestream.format.StoredTensor;
import io.mergestream.plan.DarePlanner;
import io.mergestream.plan.Planner;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adapter_config.json features on small hand-made adapters whose merged values are computed by hand (F32, small
 * integers and halves: every product and sum exact): per-module rank_pattern/alpha_pattern, rsLoRA, a regex
 * target_modules (matched whole, as re.fullmatch), fan_in_fan_out, lora_embedding_A/B, lora_B.bias, tensors saved
 * whole (modules_to_save), DoRA and other PEFT types refused, and {@code dare} / {@code delta-stats} on an adapter.
 */
class LoraAdapterFeaturesTest {

    @TempDir
    Path dir;

    Path base;

    static final String Q0 = "model.layers.0.self_attn.q_proj";
    static final String V0 = "model.layers.0.self_attn.v_proj";
    static final String Q1 = "model.layers.1.self_attn.q_proj";

    @BeforeEach
    void writeBase() {
        base = TestModels.write(dir.resolve("base"), DType.F32, new TestModels.Model()
                .put("model.embed_tokens.weight", new long[] {4, 2}, new float[] {1, 1, 1, 1, 1, 1, 1, 1})
                .put(Q0 + ".weight", new long[] {2, 3}, new float[] {0.5f, 1, 1.5f, 2, 2.5f, 3})
                .put(Q0 + ".bias", new long[] {2}, new float[] {0.25f, -0.25f})
                .put(V0 + ".weight", new long[] {2, 3}, new float[6])
                .put(Q1 + ".weight", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6})
                .put("model.layers.0.mlp.c_fc.weight", new long[] {3, 2}, new float[6])
                .put("model.norm.weight", new long[] {2}, new float[] {1, 1})
                .put("lm_head.weight", new long[] {4, 2}, new float[8]));
        try {
            Files.copy(Path.of("testdata", "tiny-llama", "base", "config.json"), base.resolve("config.json"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** An adapter directory: adapter_config.json and adapter_model.safetensors (written by the project's writer). */
    private Path adapter(String name, String config, TestModels.Model tensors) throws IOException {
        Path tmp = TestModels.write(dir.resolve(name + "-tensors"), DType.F32, tensors);
        Path a = Files.createDirectories(dir.resolve(name));
        Files.move(tmp.resolve("model.safetensors"), a.resolve("adapter_model.safetensors"));
        Files.writeString(a.resolve("adapter_config.json"), config);
        return a;
    }

    private static String config(String extra) {
        return "{\"peft_type\": \"LORA\", \"base_model_name_or_path\": \"org/not-here\", \"bias\": \"none\", " + extra + "}";
    }

    private static TestModels.Model pair(TestModels.Model m, String module, long[] aShape, float[] a, long[] bShape, float[] b) {
        return m.put("base_model.model." + module + ".lora_A.weight", aShape, a)
                .put("base_model.model." + module + ".lora_B.weight", bShape, b);
    }

    /** The adapter merged into the base (linear, weight 1): its tensors as floats. */
    private Map<String, float[]> merged(String model) throws IOException {
        String body = "merge_method: linear\nbase_model: BASE\nmodels:\n  - model: " + model + "\n    parameters: {weight: 1.0}\n";
        Path out = MergeRuns.merge(dir, MergeRuns.recipe(dir, "r", body, Map.of("BASE", base)), "out-" + Math.abs(model.hashCode()));
        Map<String, float[]> values = new java.util.HashMap<>();
        try (Checkpoint c = Checkpoint.open(out)) {
            for (StoredTensor t : c.tensors()) values.put(t.name(), TestModels.decodeAll(t.data(), t.info().dtype()));
        }
        return values;
    }

    private static final float[] QA = {1, 0, 2, 0, 1, 1};   // [2, 3], r = 2
    private static final float[] QB = {1, 1, 0, 2};         // [2, 2]
    private static final float[] VA = {1, 2, 3};            // [1, 3], r = 1 by rank_pattern
    private static final float[] VB = {1, -1};              // [2, 1]

    private TestModels.Model qv() {
        TestModels.Model m = pair(new TestModels.Model(), Q0, new long[] {2, 3}, QA, new long[] {2, 2}, QB);
        return pair(m, V0, new long[] {1, 3}, VA, new long[] {2, 1}, VB);
    }

    @Test
    void rankAndAlphaPatternsScaleEachModule() throws IOException {
        // q: r 2, alpha 4 -> s = 2; v: rank_pattern 1, alpha_pattern 3 -> s = 3. Regex targets, matched whole.
        Path a = adapter("patterns", config("\"r\": 2, \"lora_alpha\": 4, \"target_modules\": "
                + "\"model\\\\.layers\\\\.0\\\\.self_attn\\\\.(q|v)_proj\", \"rank_pattern\": {\"v_proj\": 1}, "
                + "\"alpha_pattern\": {\"v_proj\": 3}"), qv());
        Map<String, float[]> m = merged(a.toString());
        // B·A for q = [[1,1,3],[0,2,2]], times 2, plus W
        assertArrayEquals(new float[] {2.5f, 3, 7.5f, 2, 6.5f, 7}, m.get(Q0 + ".weight"));
        // B·A for v = [[1,2,3],[-1,-2,-3]], times 3, plus zeros
        assertArrayEquals(new float[] {3, 6, 9, -3, -6, -9}, m.get(V0 + ".weight"));
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, m.get(Q1 + ".weight"), "not a target: the base's");
    }

    @Test
    void rsLoraScalesByAlphaOverTheRootOfTheRank() throws IOException {
        Path a = adapter("rs", config("\"r\": 2, \"lora_alpha\": 4, \"use_rslora\": true, "
                + "\"target_modules\": [\"q_proj\", \"v_proj\"], \"rank_pattern\": {\"v_proj\": 1}"), qv());
        Map<String, float[]> m = merged(a.toString());
        float s = (float) (4 / Math.sqrt(2));
        float[] ba = {1, 1, 3, 0, 2, 2};
        float[] w = {0.5f, 1, 1.5f, 2, 2.5f, 3};
        float[] q = new float[6];
        for (int i = 0; i < 6; i++) q[i] = w[i] + s * ba[i];
        assertArrayEquals(q, m.get(Q0 + ".weight"));
        // v: rank 1, alpha 4: s = 4 / sqrt(1)
        assertArrayEquals(new float[] {4, 8, 12, -4, -8, -12}, m.get(V0 + ".weight"));
    }

    @Test
    void aRegexTargetMustMatchTheWholeModuleName() throws IOException {
        // re.fullmatch: "self_attn\.q_proj" matches no full module name, though a search would find it
        Path a = adapter("regex", config("\"r\": 2, \"lora_alpha\": 2, \"target_modules\": \"self_attn\\\\.q_proj\""),
                pair(new TestModels.Model(), Q0, new long[] {2, 3}, QA, new long[] {2, 2}, QB));
        MergestreamException e = planError("model: " + a);
        assertTrue(e.getMessage().contains(Q0) && e.getMessage().contains("target_modules"), e.getMessage());
    }

    @Test
    void fanInFanOutWeightsAreStoredInByOut() throws IOException {
        // c_fc.weight is [in 3, out 2] (GPT-2 Conv1D); W[i, o] += s * B[o, 0] * A[0, i], s = 1
        Path a = adapter("fifo", config("\"r\": 1, \"lora_alpha\": 1, \"fan_in_fan_out\": true, \"target_modules\": [\"c_fc\"]"),
                pair(new TestModels.Model(), "model.layers.0.mlp.c_fc", new long[] {1, 3}, new float[] {1, 2, 3},
                        new long[] {2, 1}, new float[] {1, 10}));
        assertArrayEquals(new float[] {1, 10, 2, 20, 3, 30}, merged(a.toString()).get("model.layers.0.mlp.c_fc.weight"));
    }

    @Test
    void embeddingsBiasesAndSavedModules() throws IOException {
        TestModels.Model t = pair(new TestModels.Model(), Q0, new long[] {2, 3}, QA, new long[] {2, 2}, QB)
                // embedding: A [r, vocab], B [dim, r]; W[v, d] += s * A[0, v] * B[d, 0], s = 2 / 1
                .put("base_model.model.model.embed_tokens.lora_embedding_A", new long[] {1, 4}, new float[] {1, 2, 3, 4})
                .put("base_model.model.model.embed_tokens.lora_embedding_B", new long[] {2, 1}, new float[] {1, -1})
                // lora_bias: the layer's bias + s * lora_B.bias (s of q = 2 / 2)
                .put("base_model.model." + Q0 + ".lora_B.bias", new long[] {2}, new float[] {1, 2})
                // saved whole: a modules_to_save head and a trained norm
                .put("base_model.model.lm_head.modules_to_save.weight", new long[] {4, 2}, new float[] {8, 7, 6, 5, 4, 3, 2, 1})
                .put("base_model.model.model.norm.weight", new long[] {2}, new float[] {0.5f, 2});
        Path a = adapter("mixed", config("\"r\": 2, \"lora_alpha\": 2, \"target_modules\": [\"q_proj\", \"embed_tokens\"], "
                + "\"rank_pattern\": {\"embed_tokens\": 1}, \"modules_to_save\": [\"lm_head\"]"), t);
        Map<String, float[]> m = merged(a.toString());
        assertArrayEquals(new float[] {3, -1, 5, -3, 7, -5, 9, -7}, m.get("model.embed_tokens.weight"));
        assertArrayEquals(new float[] {1.5f, 2, 4.5f, 2, 4.5f, 5}, m.get(Q0 + ".weight")); // s = 1 here: 2/2
        assertArrayEquals(new float[] {1.25f, 1.75f}, m.get(Q0 + ".bias"));
        assertArrayEquals(new float[] {8, 7, 6, 5, 4, 3, 2, 1}, m.get("lm_head.weight"));
        assertArrayEquals(new float[] {0.5f, 2}, m.get("model.norm.weight"));
    }

    private MergestreamException planError(String modelLine) throws IOException {
        Path r = MergeRuns.recipe(dir, "bad", "merge_method: linear\nbase_model: BASE\nmodels:\n  - " + modelLine
                + "\n    parameters: {weight: 1.0}\n", Map.of("BASE", base));
        MergestreamException e = assertThrows(MergestreamException.class, () -> Planner.plan(Recipe.load(r), 0).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    @Test
    void doraAndOtherPeftTypesAreRefused() throws IOException {
        Path dora = adapter("dora", config("\"r\": 2, \"lora_alpha\": 2, \"use_dora\": true, \"target_modules\": [\"q_proj\"]"),
                pair(new TestModels.Model(), Q0, new long[] {2, 3}, QA, new long[] {2, 2}, QB));
        MergestreamException e = planError("model: " + dora);
        assertTrue(e.getMessage().contains("adapter_config.json") && e.getMessage().contains("DoRA"), e.getMessage());
        Path ia3 = adapter("ia3", "{\"peft_type\": \"IA3\", \"target_modules\": [\"q_proj\"]}", new TestModels.Model()
                .put("base_model.model." + Q0 + ".ia3_l", new long[] {2, 1}, new float[] {1, 1}));
        e = planError("model: " + ia3);
        assertTrue(e.getMessage().contains("IA3") && e.getMessage().contains("LoRA"), e.getMessage());
        // a bare adapter whose base is a hub id, in a recipe without base_model: nothing to apply it to
        Path ok = adapter("ok", config("\"r\": 2, \"lora_alpha\": 2, \"target_modules\": [\"q_proj\"]"),
                pair(new TestModels.Model(), Q0, new long[] {2, 3}, QA, new long[] {2, 2}, QB));
        Path r = MergeRuns.recipe(dir, "nobase", "merge_method: linear\nmodels:\n  - model: " + ok
                + "\n    parameters: {weight: 1.0}\n", Map.of());
        e = assertThrows(MergestreamException.class, () -> Planner.plan(Recipe.load(r), 0).close());
        assertTrue(e.getMessage().contains("base_model") && e.getMessage().contains("org/not-here"), e.getMessage());
        // the rank in the file must be the config's
        Path wrongRank = adapter("rank", config("\"r\": 3, \"lora_alpha\": 2, \"target_modules\": [\"q_proj\"]"),
                pair(new TestModels.Model(), Q0, new long[] {2, 3}, QA, new long[] {2, 2}, QB));
        e = planError("model: " + wrongRank);
        assertTrue(e.getMessage().contains("rank 2") && e.getMessage().contains("r = 3"), e.getMessage());
    }

    @Test
    void dareAndDeltaStatsTakeAnAdapter() throws IOException {
        Path a = adapter("dare", config("\"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"q_proj\", \"v_proj\"], "
                + "\"rank_pattern\": {\"v_proj\": 1}"), qv());
        Path full = MergeRuns.merge(dir, MergeRuns.recipe(dir, "full", "merge_method: linear\nbase_model: BASE\nmodels:\n"
                + "  - model: LORADIR\n    parameters: {weight: 1.0}\n", Map.of("BASE", base, "LORADIR", a)), "full");
        for (String strategy : new String[] {"random", "magnitude"}) {
            Path x = dir.resolve("dare-lora-" + strategy), y = dir.resolve("dare-full-" + strategy);
            assertEquals(0, Main.run("dare", "--base", base.toString(), "--model", a.toString(), "--density", "0.5",
                    "--strategy", strategy, "--seed", "3", "-o", x.toString(), "-q"));
            assertEquals(0, Main.run("dare", "--base", base.toString(), "--model", base + "+" + a, "--density", "0.5",
                    "--strategy", strategy, "--seed", "3", "-o", y + "-plus", "-q"));
            assertEquals(0, Main.run("dare", "--base", base.toString(), "--model", full.toString(), "--density", "0.5",
                    "--strategy", strategy, "--seed", "3", "-o", y.toString(), "-q"));
            assertEquals(java.util.Set.of(), LoraMergeTest.differences(x, y), strategy);
            assertEquals(java.util.Set.of(), LoraMergeTest.differences(Path.of(y + "-plus"), y), strategy);
        }
        try (InputModel b = DarePlanner.open(base, "--base", null);
             InputModel lora = DarePlanner.open(a, "--model", b);
             Checkpoint c = Checkpoint.open(full);
             ChunkRunner runner = new ChunkRunner(2, DeltaStats.DEFAULT_BLOCK);
             Progress p = new Progress(System.err, Progress.Mode.QUIET, 1, 1)) {
            DeltaStats.Report r1 = DeltaStats.compute(b, lora, runner, DeltaStats.DEFAULT_BLOCK, p);
            DeltaStats.Report r2 = DeltaStats.compute(b, c, runner, DeltaStats.DEFAULT_BLOCK, p);
            assertEquals(r2.overall(), r1.overall());
            assertEquals(12.0, r1.overall().max(), "max |delta| is v's s * 3 = 4 * 3");
        }
    }
}
