package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rules of issue 10, each merged through the command line and checked against values worked out by hand
 * or by a plain reference: {@code rescale: true} as mergekit's L1 rule (and {@code inverse}, {@code false}, the
 * 1e-7 floor), recipes whose only model is the base, nearswap's {@code t: 0}, arcee_fusion on a vocabulary
 * mismatch in small chunks, and {@code vocab_size} after truncation to the common vocabulary.
 */
class MergekitRulesEndToEndTest {

    static final String UP = "model.layers.0.mlp.up_proj.weight";
    static final String NORM = "model.norm.weight";

    /** delta of UP: magnitudes 4, 3, 2, 1 then 0.5, 0.25, 0.125, 0.125; Σ|δ| = 11. */
    static final float[] DELTA = {1f, -2f, 3f, -4f, 0.5f, 0.25f, -0.125f, 0.125f};
    /** delta of NORM: Σ|δ| = 3.4e-8, below mergekit's 1e-7 floor. */
    static final float[] TINY = {2e-8f, -1e-8f, 4e-9f, 0f};

    @TempDir
    static Path dir;
    static Path base, ft;

    @BeforeAll
    static void write() {
        float[] b = new float[8];
        float[] x = new float[8];
        for (int i = 0; i < 8; i++) {
            b[i] = 0.5f;
            x[i] = 0.5f + DELTA[i]; // exact in f32, so x - b is DELTA again
        }
        base = TestModels.write(dir.resolve("base"), DType.F32, new TestModels.Model()
                .put(UP, new long[] {2, 4}, b).put(NORM, new long[] {4}, new float[4]));
        ft = TestModels.write(dir.resolve("ft"), DType.F32, new TestModels.Model()
                .put(UP, new long[] {2, 4}, x).put(NORM, new long[] {4}, TINY));
    }

    static Path recipe(String name, String body) throws IOException {
        return MergeRuns.recipe(dir, name, body, Map.of("BASE", base, "FT", ft));
    }

    static float[] read(Path model, String name) {
        return MergeEndToEndTest.read(model, name);
    }

    /** |actual − expected| within two f32 ulps of the hand-computed (double) value. */
    static void assertNear(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            double tol = 2 * Math.ulp((float) expected[i]);
            assertEquals(expected[i], actual[i], tol, what + "[" + i + "]");
        }
    }

    static String single(String method, String params, String global) {
        return "merge_method: " + method + "\nbase_model: BASE\nmodels:\n  - model: FT\n    parameters: " + params
                + "\nparameters: " + global + "\n";
    }

    @Test
    void tiesRescaleTrueIsMergekitsL1RuleByHand() throws IOException {
        // density 0.5 keeps |δ| = 4, 3, 2, 1 (Σ 10 of 11): kept values times 11/10
        Path out = MergeRuns.merge(dir, recipe("ties-true", single("ties", "{weight: 1, density: 0.5}", "{rescale: true}")),
                "out-ties-true");
        assertNear(new double[] {0.5 + 1.1, 0.5 - 2.2, 0.5 + 3.3, 0.5 - 4.4, 0.5, 0.5, 0.5, 0.5}, read(out, UP), "true");
        // NORM: Σ|δ| = 3.4e-8 < 1e-7, so the two kept deltas stay as they are
        assertArrayEquals(new float[] {2e-8f, -1e-8f, 0f, 0f}, read(out, NORM), "below the 1e-7 floor");

        Path l1 = MergeRuns.merge(dir, recipe("ties-l1", single("ties", "{weight: 1, density: 0.5}", "{rescale: l1}")),
                "out-ties-l1");
        assertArrayEquals(read(out, UP), read(l1, UP), "l1 is a synonym of true");

        Path inverse = MergeRuns.merge(dir, recipe("ties-inverse",
                single("ties", "{weight: 1, density: 0.5}", "{rescale: inverse}")), "out-ties-inverse");
        assertArrayEquals(new float[] {2.5f, -3.5f, 6.5f, -7.5f, 0.5f, 0.5f, 0.5f, 0.5f}, read(inverse, UP),
                "inverse: kept / 0.5");
        assertArrayEquals(new float[] {4e-8f, -2e-8f, 0f, 0f}, read(inverse, NORM), "inverse has no floor");

        Path none = MergeRuns.merge(dir, recipe("ties-false", single("ties", "{weight: 1, density: 0.5}", "{normalize: true}")),
                "out-ties-false");
        assertArrayEquals(new float[] {1.5f, -1.5f, 3.5f, -3.5f, 0.5f, 0.5f, 0.5f, 0.5f}, read(none, UP),
                "ties' default is rescale: false");
    }

    @Test
    void breadcrumbsAndDareWithRescaleTrueByHand() throws IOException {
        // gamma 0.125 drops the largest (|-4|), density 0.5 keeps the next four: 3, 2, 1, 0.5 (Σ 6.5 of 11)
        Path out = MergeRuns.merge(dir, recipe("bc-true",
                single("breadcrumbs", "{weight: 1, density: 0.5, gamma: 0.125}", "{rescale: true}")), "out-bc-true");
        double f = 11 / 6.5;
        assertNear(new double[] {0.5 + f, 0.5 - 2 * f, 0.5 + 3 * f, 0.5, 0.5 + 0.5 * f, 0.5, 0.5, 0.5}, read(out, UP),
                "breadcrumbs");
        // dare_linear's default is true: whatever the mask keeps, the kept delta's L1 norm is the whole delta's, 11
        Path dare = MergeRuns.merge(dir, recipe("dare-default", single("dare_linear", "{weight: 1, density: 0.5}", "{}")),
                "out-dare-default", "--seed", "3");
        float[] o = read(dare, UP);
        double l1 = 0;
        int kept = 0;
        for (int i = 0; i < 8; i++) {
            l1 += Math.abs(o[i] - 0.5);
            if (o[i] != 0.5f) kept++;
        }
        assertTrue(kept > 0 && kept < 8, "the mask drops some and keeps some: " + kept);
        assertEquals(11.0, l1, 1e-5, "Σ|kept delta| after rescale");
    }

    @Test
    void aRecipeWhoseOnlyModelIsTheBaseGivesTheBase() throws IOException {
        for (String method : List.of("ties", "task_arithmetic", "dare_ties", "della_linear")) {
            Path r = recipe("only-base-" + method, "merge_method: " + method + "\nbase_model: BASE\nmodels:\n"
                    + "  - model: BASE\ndtype: bfloat16\n");
            Path out = MergeRuns.merge(dir, r, "out-only-base-" + method);
            try (Checkpoint c = Checkpoint.open(out)) {
                assertEquals(DType.BF16, c.tensor(UP).info().dtype(), method);
            }
            assertArrayEquals(read(base, UP), read(out, UP), method);
            assertArrayEquals(read(base, NORM), read(out, NORM), method);
        }
    }

    @Test
    void nearswapWithThresholdZeroGivesTheBase() throws IOException {
        for (String t : List.of("0", "-0.5")) {
            Path r = recipe("nearswap-" + t, "merge_method: nearswap\nbase_model: BASE\nmodels: [BASE, FT]\n"
                    + "parameters: {t: " + t + "}\n");
            Path out = MergeRuns.merge(dir, r, "out-nearswap-" + t);
            assertArrayEquals(read(base, UP), read(out, UP), "t " + t);
        }
        // t = 1 takes the other model where |δ| <= 1, and interpolates beyond: w = 1/|δ|, out = w x + (1 − w) b
        Path r = recipe("nearswap-1", "merge_method: nearswap\nbase_model: BASE\nmodels: [BASE, FT]\nparameters: {t: 1}\n");
        Path out = MergeRuns.merge(dir, r, "out-nearswap-1");
        assertNear(new double[] {1.5, 0.5 - 1, 0.5 + 1, 0.5 - 1, 1.0, 0.75, 0.375, 0.625}, read(out, UP), "t 1");
    }

    @Test
    void arceeFusionAgainstThePlainReferenceAcrossChunksAndAVocabularyMismatch() throws IOException {
        Random rnd = new Random(10);
        String embed = "model.embed_tokens.weight";
        int h = 16;
        float[] e = MergeEndToEndTest.gaussian(rnd, 9 * h, 0.5f);
        float[] q = MergeEndToEndTest.gaussian(rnd, 48 * h, 0.5f);
        float[] e2 = new float[10 * h];
        for (int i = 0; i < e2.length; i++) e2[i] = i < e.length ? e[i] + (float) rnd.nextGaussian() * 0.1f : 0.3f;
        float[] q2 = q.clone();
        for (int i = 0; i < q2.length; i++) q2[i] += (float) rnd.nextGaussian() * 0.1f;
        Path b = TestModels.write(dir.resolve("af-base"), DType.F32, new TestModels.Model()
                .put(embed, new long[] {9, h}, e).put(UP, new long[] {48, h}, q));
        Path x = TestModels.write(dir.resolve("af-ft"), DType.F32, new TestModels.Model()
                .put(embed, new long[] {10, h}, e2).put(UP, new long[] {48, h}, q2));
        Path r = MergeRuns.recipe(dir, "af", "merge_method: arcee_fusion\nbase_model: B\nmodels: [B, X]\n",
                Map.of("B", b, "X", x));
        Path out = MergeRuns.merge(dir, r, "out-af", "--chunk-size", "7", "--threads", "2");
        for (String name : List.of(embed, UP)) {
            float[] bv = read(b, name);
            float[] xv = java.util.Arrays.copyOf(read(x, name), bv.length); // the common rows, as mergekit truncates
            float[] imp = MergekitGoldenTest.ArceeFusionReference.importance(xv, bv, h);
            float th = MergekitGoldenTest.ArceeFusionReference.threshold(imp);
            float[] expected = MergekitGoldenTest.ArceeFusionReference.fuse(xv, bv, imp, th);
            assertArrayEquals(expected, read(out, name), name);
            int taken = 0;
            for (int i = 0; i < bv.length; i++) if (expected[i] != bv[i]) taken++;
            assertTrue(taken > 0 && taken < bv.length / 2, name + ": some deltas taken, most not: " + taken);
        }
        Path only = MergeRuns.recipe(dir, "af-only", "merge_method: arcee_fusion\nbase_model: B\nmodels: [B]\n", Map.of("B", b));
        assertArrayEquals(read(b, UP), read(MergeRuns.merge(dir, only, "out-af-only"), UP), "the base alone");
    }

    @Test
    void vocabSizeFollowsTheTruncatedVocabulary() throws IOException {
        Random rnd = new Random(4);
        String embed = "model.embed_tokens.weight", head = "lm_head.weight";
        int h = 4;
        Path a = TestModels.write(dir.resolve("v513"), DType.BF16, new TestModels.Model()
                .put(embed, new long[] {513, h}, MergeEndToEndTest.gaussian(rnd, 513 * h, 0.02f))
                .put(head, new long[] {513, h}, MergeEndToEndTest.gaussian(rnd, 513 * h, 0.02f)));
        Path c = TestModels.write(dir.resolve("v512"), DType.BF16, new TestModels.Model()
                .put(embed, new long[] {512, h}, MergeEndToEndTest.gaussian(rnd, 512 * h, 0.02f))
                .put(head, new long[] {512, h}, MergeEndToEndTest.gaussian(rnd, 512 * h, 0.02f)));
        Files.writeString(a.resolve("config.json"), "{\"model_type\": \"llama\", \"vocab_size\": 513, \"hidden_size\": 4}");
        Files.writeString(c.resolve("config.json"), "{\"model_type\": \"llama\", \"vocab_size\": 512, \"hidden_size\": 4}");
        Path r = MergeRuns.recipe(dir, "vocab", "merge_method: linear\nmodels:\n  - model: A\n    parameters: {weight: 1}\n"
                + "  - model: C\n    parameters: {weight: 1}\n", Map.of("A", a, "C", c));
        Path out = MergeRuns.merge(dir, r, "out-vocab");
        try (Checkpoint m = Checkpoint.open(out)) {
            assertEquals(512, m.tensor(embed).info().dim(0));
            assertEquals(512, m.tensor(head).info().dim(0));
        }
        var config = Json.read(out.resolve("config.json"));
        assertEquals(512, config.get("vocab_size").asInt(), "config.json's vocab_size is the tensors' rows");
        assertEquals(4, config.get("hidden_size").asInt(), "the rest of the config is the first model's");
    }
}
