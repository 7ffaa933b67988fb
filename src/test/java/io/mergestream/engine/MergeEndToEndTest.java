package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.engine.ReferenceMerge.Elect;
import io.mergestream.engine.ReferenceMerge.Sparsify;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
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
 * Runs whole merges through the command line and compares every output element with {@link ReferenceMerge}
 * computed from the decoded inputs: bit for bit, for each method of the task-arithmetic family and linear,
 * across layers (gradients), vocabulary-size mismatches and output dtypes.
 */
class MergeEndToEndTest {

    static final int H = 16;
    static final int VOCAB = 37;
    /** name, rows (per model: base, ft1, ft2, ft3) */
    static final String EMBED = "model.embed_tokens.weight";
    static final List<String> SQUARE = List.of("model.layers.0.self_attn.q_proj.weight",
            "model.layers.1.self_attn.q_proj.weight");
    static final String UP = "model.layers.1.mlp.up_proj.weight";
    static final String NORM = "model.norm.weight";
    static final String HEAD = "lm_head.weight";
    static final int UP_ROWS = 41;

    @TempDir
    static Path dir;

    static Path base;
    static Path[] fts = new Path[3];

    @BeforeAll
    static void writeFamily() {
        Random rnd = new Random(7);
        float[] embed = gaussian(rnd, VOCAB * H, 0.02f);
        float[][] sq = {gaussian(rnd, H * H, 0.02f), gaussian(rnd, H * H, 0.02f)};
        float[] up = gaussian(rnd, UP_ROWS * H, 0.02f);
        float[] norm = new float[H];
        java.util.Arrays.fill(norm, 1f);
        float[] head = gaussian(rnd, VOCAB * H, 0.02f);
        base = TestModels.write(dir.resolve("base"), DType.BF16, model(embed, VOCAB, sq, up, norm, head));
        int[] vocabRows = {VOCAB, VOCAB + 2, VOCAB - 3}; // ft2 added tokens, ft3 has fewer rows
        for (int j = 0; j < 3; j++) {
            int rows = vocabRows[j];
            float[] e = perturb(rnd, resize(embed, rows * H, rnd), j);
            float[][] s = {perturb(rnd, sq[0], j), perturb(rnd, sq[1], j)};
            fts[j] = TestModels.write(dir.resolve("ft" + (j + 1)), DType.BF16,
                    model(e, rows, s, perturb(rnd, up, j), perturb(rnd, norm, j), perturb(rnd, resize(head, rows * H, rnd), j)),
                    3000); // sharded, with an index
        }
    }

    static TestModels.Model model(float[] embed, int rows, float[][] sq, float[] up, float[] norm, float[] head) {
        return new TestModels.Model()
                .put(EMBED, new long[] {rows, H}, embed)
                .put(SQUARE.get(0), new long[] {H, H}, sq[0])
                .put(SQUARE.get(1), new long[] {H, H}, sq[1])
                .put(UP, new long[] {UP_ROWS, H}, up)
                .put(NORM, new long[] {H}, norm)
                .put(HEAD, new long[] {rows, H}, head);
    }

    static float[] gaussian(Random rnd, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian() * scale;
        return v;
    }

    static float[] resize(float[] v, int n, Random rnd) {
        float[] out = java.util.Arrays.copyOf(v, n);
        for (int i = v.length; i < n; i++) out[i] = (float) rnd.nextGaussian() * 0.02f;
        return out;
    }

    /** SFT-like deltas, quantised so that equal magnitudes (ties) and exact zeros are common. */
    static float[] perturb(Random rnd, float[] v, int model) {
        float[] out = v.clone();
        for (int i = 0; i < v.length; i++) {
            int q = rnd.nextInt(9) - 4; // -4..4, zero one time in nine
            out[i] = v[i] + q * 0.001f * (model + 1);
        }
        return out;
    }

    static Path recipe(String name, String body) throws IOException {
        return MergeRuns.recipe(dir, name, body, Map.of("BASE", base, "FT1", fts[0], "FT2", fts[1], "FT3", fts[2]));
    }

    static Path merge(Path recipe, String out, String... extra) {
        return MergeRuns.merge(dir, recipe, out, extra);
    }

    /** Decoded tensor of a model, or null when absent. */
    static float[] read(Path model, String name) {
        try (Checkpoint c = Checkpoint.open(model)) {
            StoredTensor t = c.tensor(name);
            return t == null ? null : TestModels.decodeAll(t.data(), t.info().dtype());
        }
    }

    static void assertTensor(Path out, String name, float[] expectedF32, DType outType) {
        try (Checkpoint c = Checkpoint.open(out)) {
            StoredTensor t = c.tensor(name);
            assertEquals(outType, t.info().dtype(), name);
            float[] actual = TestModels.decodeAll(t.data(), outType);
            assertEquals(expectedF32.length, actual.length, name + " length");
            for (int i = 0; i < actual.length; i++) {
                float e = TestModels.round(expectedF32[i], outType);
                if (Float.floatToIntBits(e) != Float.floatToIntBits(actual[i])) {
                    throw new AssertionError(name + "[" + i + "]: expected " + e + " but was " + actual[i]);
                }
            }
        }
    }

    static float[][] fineTunes(String name) {
        float[][] x = new float[3][];
        for (int j = 0; j < 3; j++) x[j] = read(fts[j], name);
        return x;
    }

    static float[] cut(float[] v, int n) {
        return v.length > n ? java.util.Arrays.copyOf(v, n) : v;
    }

    /** Checks every tensor of a task-arithmetic-family output against the reference. */
    static void checkFamily(Path out, float[] w, double[] densityLayer0, double[] densityLayer1, Sparsify sp,
                            ReferenceMerge.Rescale rescale, Elect elect, boolean normalize, float lambda, long seed,
                            DType outType) {
        for (String name : List.of(EMBED, SQUARE.get(0), SQUARE.get(1), UP, NORM, HEAD)) {
            float[] b = read(base, name);
            float[][] x = fineTunes(name);
            for (int j = 0; j < 3; j++) x[j] = cut(x[j], b.length);
            double[] density = name.contains("layers.1.") ? densityLayer1 : densityLayer0;
            float[] expected = ReferenceMerge.taskArithmetic(b, x, w, density, sp, rescale, elect, normalize, lambda,
                    seed, name);
            assertTensor(out, name, expected, outType);
        }
    }

    @Test
    void taskArithmetic() throws IOException {
        Path r = recipe("ta", """
                merge_method: task_arithmetic
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.5}
                  - model: FT2
                    parameters: {weight: 0.3}
                  - model: FT3
                    parameters: {weight: [1.0, 0.2]}
                parameters: {lambda: 0.8}
                """);
        Path out = merge(r, "out-ta");
        // weight gradient [1.0, 0.2] over 2 layers: layer 0 and non-layer tensors 1.0, layer 1 0.2
        for (String name : List.of(EMBED, SQUARE.get(0), SQUARE.get(1), UP, NORM, HEAD)) {
            float w3 = name.contains("layers.1.") ? 0.2f : 1.0f;
            float[] b = read(base, name);
            float[][] x = fineTunes(name);
            for (int j = 0; j < 3; j++) x[j] = cut(x[j], b.length);
            float[] expected = ReferenceMerge.taskArithmetic(b, x, new float[] {0.5f, 0.3f, w3}, new double[] {1, 1, 1},
                    Sparsify.NONE, ReferenceMerge.Rescale.NONE, Elect.NONE, false, 0.8f, 0, name);
            assertTensor(out, name, expected, DType.BF16);
        }
        assertTrue(Files.isRegularFile(out.resolve("README.md")));
        assertTrue(Files.readString(out.resolve(ModelCard.RECIPE_FILE)).contains("task_arithmetic"));
    }

    @Test
    void tiesWithDensityGradientAndTiesAtTheThreshold() throws IOException {
        Path r = recipe("ties", """
                merge_method: ties
                base_model: BASE
                models:
                  - model: BASE
                  - model: FT1
                    parameters: {weight: 1.0, density: [0.5, 0.3]}
                  - model: FT2
                    parameters: {weight: 0.6, density: 0.7}
                  - model: FT3
                    parameters: {weight: 0.4, density: 0.2}
                """);
        Path out = merge(r, "out-ties", "--chunk-size", "50", "--threads", "3");
        checkFamily(out, new float[] {1f, 0.6f, 0.4f}, new double[] {0.5, 0.7, 0.2}, new double[] {0.3, 0.7, 0.2},
                Sparsify.MAGNITUDE, ReferenceMerge.Rescale.NONE, Elect.WEIGHTED_SUM, true, 1f, 0, DType.BF16);
    }

    @Test
    void dareLinearToFloat32() throws IOException {
        Path r = recipe("dl", """
                merge_method: dare_linear
                base_model: BASE
                out_dtype: float32
                seed: 42
                models:
                  - model: FT1
                    parameters: {weight: 0.7, density: 0.3}
                  - model: FT2
                    parameters: {weight: 0.7, density: 0.9}
                  - model: FT3
                    parameters: {weight: 0.2, density: 1.0}
                """);
        Path out = merge(r, "out-dl");
        checkFamily(out, new float[] {0.7f, 0.7f, 0.2f}, new double[] {0.3, 0.9, 1.0}, new double[] {0.3, 0.9, 1.0},
                Sparsify.RANDOM, ReferenceMerge.Rescale.L1, Elect.NONE, false, 1f, 42, DType.F32);
    }

    @Test
    void dareTiesEachElection() throws IOException {
        // each election with another rescale: the default (true, mergekit's L1 rule), inverse and false
        Map<String, String> rescaleOf = Map.of("weighted_sum", "true", "sum", "inverse", "count", "false");
        Map<String, ReferenceMerge.Rescale> expected = Map.of("weighted_sum", ReferenceMerge.Rescale.L1,
                "sum", ReferenceMerge.Rescale.INVERSE, "count", ReferenceMerge.Rescale.NONE);
        for (String election : List.of("weighted_sum", "sum", "count")) {
            Path r = recipe("dt-" + election, """
                    merge_method: dare_ties
                    base_model: BASE
                    out_dtype: float16
                    models:
                      - model: FT1
                        parameters: {weight: 0.5, density: 0.4}
                      - model: FT2
                        parameters: {weight: 0.5, density: 0.6}
                      - model: FT3
                        parameters: {weight: 0.5, density: 0.5}
                    parameters: {normalize: true, sign_election: ELECTION, lambda: 1.5, rescale: RESCALE}
                    """.replace("ELECTION", election).replace("RESCALE", rescaleOf.get(election)));
            Path out = merge(r, "out-dt-" + election, "--seed", "9");
            checkFamily(out, new float[] {0.5f, 0.5f, 0.5f}, new double[] {0.4, 0.6, 0.5}, new double[] {0.4, 0.6, 0.5},
                    Sparsify.RANDOM, expected.get(election), Elect.valueOf(election.toUpperCase(java.util.Locale.ROOT)),
                    true, 1.5f, 9, DType.F16);
        }
    }

    @Test
    void linearTruncatesVocabularyToTheCommonRows() throws IOException {
        Path r = recipe("lin", """
                merge_method: linear
                models:
                  - model: FT1
                    parameters: {weight: 1.0}
                  - model: FT2
                    parameters: {weight: 2.0}
                  - model: FT3
                    parameters: {weight: 1.0}
                """);
        Path out = merge(r, "out-lin");
        for (String name : List.of(EMBED, SQUARE.get(0), UP, NORM, HEAD)) {
            float[][] x = fineTunes(name);
            int n = Math.min(x[0].length, Math.min(x[1].length, x[2].length));
            assertTensor(out, name, ReferenceMerge.linear(x, new float[] {1, 2, 1}, true, n), DType.BF16);
        }
        try (Checkpoint c = Checkpoint.open(out)) {
            assertArrayEquals(new long[] {VOCAB - 3, H}, c.tensor(EMBED).info().shape());
        }
    }

    @Test
    void outputIsIdenticalForAnyThreadCountAndChunkSize() throws IOException {
        Path r = recipe("det", """
                merge_method: dare_ties
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.5, density: 0.3}
                  - model: FT2
                    parameters: {weight: 0.5, density: 0.5}
                  - model: FT3
                    parameters: {weight: 0.5, density: 0.7}
                """);
        byte[] reference = null;
        for (String threads : List.of("1", "2", "4")) {
            for (String chunk : List.of("13", "65536")) {
                Path out = merge(r, "det-" + threads + "-" + chunk, "--threads", threads, "--chunk-size", chunk);
                byte[] bytes = Files.readAllBytes(out.resolve("model.safetensors"));
                if (reference == null) reference = bytes;
                assertArrayEquals(reference, bytes, threads + " threads, chunk " + chunk);
            }
        }
        // and a TIES merge (reduction passes) at two extremes
        Path t = recipe("det-ties", """
                merge_method: ties
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 1, density: 0.3}
                  - model: FT2
                    parameters: {weight: 1, density: 0.5}
                """);
        byte[] a = Files.readAllBytes(merge(t, "det-ties-a", "--threads", "1", "--chunk-size", "7").resolve("model.safetensors"));
        byte[] b = Files.readAllBytes(merge(t, "det-ties-b", "--threads", "4").resolve("model.safetensors"));
        assertArrayEquals(a, b);
        assertFalse(Files.exists(dir.resolve(".det-ties-b.partial-" + ProcessHandle.current().pid())));
    }
}
