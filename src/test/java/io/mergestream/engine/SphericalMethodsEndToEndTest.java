package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.format.StoredTensor;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The methods outside the task-arithmetic family and {@code slices:}, run through the command line on a small
 * bf16 family and compared element by element with {@link ReferenceSpherical}: bit for bit for slerp,
 * nuslerp, model_stock, nearswap and passthrough; to 1e-5 of the tensor's largest value for multislerp and
 * karcher, whose engine computes the same vectors as combinations of the inputs (see their javadoc). The
 * family has the edge cases: ft1 has 2 more vocabulary rows, ft2 3 fewer and no lm_head (tied embeddings);
 * ft3's layer-1 projection is exactly twice the base's (parallel vectors) and its final norm is zero.
 */
class SphericalMethodsEndToEndTest {

    static final int H = 16;
    static final int VOCAB = 37;
    static final String EMBED = "model.embed_tokens.weight";
    static final String Q0 = "model.layers.0.self_attn.q_proj.weight";
    static final String Q1 = "model.layers.1.self_attn.q_proj.weight";
    static final String NORM = "model.norm.weight";
    static final String HEAD = "lm_head.weight";
    static final List<String> ALL = List.of(EMBED, Q0, Q1, NORM, HEAD);

    @TempDir
    static Path dir;
    static Path base;
    static Path[] fts = new Path[3];

    @BeforeAll
    static void writeFamily() {
        Random rnd = new Random(11);
        float[] embed = MergeEndToEndTest.gaussian(rnd, VOCAB * H, 0.02f);
        float[] q0 = MergeEndToEndTest.gaussian(rnd, H * H, 0.02f);
        float[] q1 = MergeEndToEndTest.gaussian(rnd, H * H, 0.02f);
        float[] norm = new float[H];
        Arrays.fill(norm, 1f);
        float[] head = MergeEndToEndTest.gaussian(rnd, VOCAB * H, 0.02f);
        base = write("base", model(embed, VOCAB, q0, q1, norm, head));
        int[] rows = {VOCAB + 2, VOCAB - 3, VOCAB};
        for (int j = 0; j < 3; j++) {
            float[] e = MergeEndToEndTest.perturb(rnd, MergeEndToEndTest.resize(embed, rows[j] * H, rnd), j);
            float[] h = MergeEndToEndTest.perturb(rnd, MergeEndToEndTest.resize(head, rows[j] * H, rnd), j);
            float[] layer1 = MergeEndToEndTest.perturb(rnd, q1, j);
            float[] n = MergeEndToEndTest.perturb(rnd, norm, j);
            if (j == 2) {
                layer1 = new float[q1.length];
                for (int i = 0; i < q1.length; i++) layer1[i] = 2 * TestModels.round(q1[i], DType.BF16);
                n = new float[H];
            }
            TestModels.Model m = model(e, rows[j], MergeEndToEndTest.perturb(rnd, q0, j), layer1, n, j == 1 ? null : h);
            fts[j] = write("ft" + (j + 1), m);
        }
    }

    static TestModels.Model model(float[] embed, int rows, float[] q0, float[] q1, float[] norm, float[] head) {
        TestModels.Model m = new TestModels.Model()
                .put(EMBED, new long[] {rows, H}, embed)
                .put(Q0, new long[] {H, H}, q0)
                .put(Q1, new long[] {H, H}, q1)
                .put(NORM, new long[] {H}, norm);
        return head == null ? m : m.put(HEAD, new long[] {rows, H}, head);
    }

    static Path write(String name, TestModels.Model m) {
        Path p = TestModels.write(dir.resolve(name), DType.BF16, m);
        try {
            Files.writeString(p.resolve("config.json"), "{\"model_type\": \"llama\", \"num_hidden_layers\": 2}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    static Path merge(String name, String body, String... extra) throws IOException {
        Path r = MergeRuns.recipe(dir, name, body, Map.of("BASE", base, "FT1", fts[0], "FT2", fts[1], "FT3", fts[2]));
        return MergeRuns.merge(dir, r, "out-" + name, extra);
    }

    /** The model's tensor, lm_head falling back to the tied embedding. */
    static float[] read(Path model, String name) {
        float[] t = MergeEndToEndTest.read(model, name);
        return t == null && name.equals(HEAD) ? MergeEndToEndTest.read(model, EMBED) : t;
    }

    /** The tensors of the given models, cut to their common rows. */
    static float[][] common(String name, Path... models) {
        float[][] x = new float[models.length][];
        int n = Integer.MAX_VALUE;
        for (int j = 0; j < models.length; j++) {
            x[j] = read(models[j], name);
            n = Math.min(n, x[j].length);
        }
        for (int j = 0; j < models.length; j++) x[j] = Arrays.copyOf(x[j], n);
        return x;
    }

    static void assertClose(Path out, String name, double[] expected) {
        float[] actual = MergeEndToEndTest.read(out, name);
        assertEquals(expected.length, actual.length, name);
        double max = 0;
        for (double e : expected) max = Math.max(max, Math.abs(e));
        for (int i = 0; i < actual.length; i++) {
            if (!(Math.abs(actual[i] - expected[i]) <= 1e-5 * max + 1e-7)) {
                throw new AssertionError(name + "[" + i + "]: expected " + expected[i] + " but was " + actual[i]);
            }
        }
    }

    static double layerT(String name, double first, double last) {
        return name.contains("layers.1.") ? last : first;
    }

    @Test
    void slerpWithAGradientTruncatedVocabularyAndParallelAndZeroTensors() throws IOException {
        Path out = merge("slerp", """
                merge_method: slerp
                base_model: BASE
                models: [BASE, FT1]
                parameters: {t: [0.3, 0.7]}
                """);
        for (String name : ALL) {
            float[][] v = common(name, base, fts[0]);
            MergeEndToEndTest.assertTensor(out, name, ReferenceSpherical.slerp(layerT(name, 0.3, 0.7), v[0], v[1]), DType.BF16);
        }
        try (Checkpoint c = Checkpoint.open(out)) {
            assertArrayEquals(new long[] {VOCAB, H}, c.tensor(EMBED).info().shape());
        }
        Path parallel = merge("slerp-parallel", """
                merge_method: slerp
                base_model: BASE
                models: [FT3]
                parameters: {t: 0.4}
                """);
        float[][] v = common(Q1, base, fts[2]);
        float[] lerp = ReferenceSpherical.combine((float) (1 - 0.4), v[0], (float) 0.4, v[1]);
        MergeEndToEndTest.assertTensor(parallel, Q1, lerp, DType.BF16);
        for (String name : ALL) {
            float[][] w = common(name, base, fts[2]);
            MergeEndToEndTest.assertTensor(parallel, name, ReferenceSpherical.slerp(0.4, w[0], w[1]), DType.BF16);
        }
    }

    @Test
    void slerpOfTheBaseAloneIsTheBase() throws IOException {
        Path out = merge("slerp-lone", """
                merge_method: slerp
                base_model: BASE
                models: [BASE]
                parameters: {t: 0.5}
                """);
        for (String name : ALL) MergeEndToEndTest.assertTensor(out, name, read(base, name), DType.BF16);
    }

    @Test
    void nuslerpRowWiseWithBaseAndWholeWithout() throws IOException {
        Path rows = merge("nuslerp-rows", """
                merge_method: nuslerp
                base_model: BASE
                models:
                  - {model: FT1, parameters: {weight: 1.0}}
                  - {model: FT2, parameters: {weight: 3.0}}
                parameters: {nuslerp_flatten: false}
                """, "--threads", "2", "--chunk-size", "7");
        for (String name : ALL) {
            float[][] x = common(name, base, fts[0], fts[1]);
            MergeEndToEndTest.assertTensor(rows, name, ReferenceSpherical.nuslerpRows(0.75, x[0], x[1], x[2], H), DType.BF16);
        }
        Path whole = merge("nuslerp-whole", """
                merge_method: nuslerp
                models:
                  - {model: FT1, parameters: {weight: 1.0}}
                  - {model: FT3, parameters: {weight: 1.0}}
                """);
        for (String name : ALL) {
            float[][] x = common(name, fts[0], fts[2]);
            MergeEndToEndTest.assertTensor(whole, name, ReferenceSpherical.nuslerp(0.5, x[0], x[1]), DType.BF16);
        }
    }

    @Test
    void multislerpWithBase() throws IOException {
        Path out = merge("multislerp", """
                merge_method: multislerp
                base_model: BASE
                out_dtype: float32
                models:
                  - {model: FT1, parameters: {weight: 0.5}}
                  - {model: FT2, parameters: {weight: 0.3}}
                  - {model: FT3, parameters: {weight: 0.2}}
                """);
        for (String name : ALL) {
            float[][] x = common(name, base, fts[0], fts[1], fts[2]);
            double[] expected = ReferenceSpherical.multislerp(new float[][] {x[1], x[2], x[3]}, x[0],
                    new double[] {0.5, 0.3, 0.2});
            assertClose(out, name, expected);
        }
    }

    @Test
    void karcherWithAZeroModelTensorAndTruncatedVocabulary() throws IOException {
        Path out = merge("karcher", """
                merge_method: karcher
                out_dtype: float32
                models: [FT1, FT2, FT3]
                """);
        for (String name : ALL) {
            float[][] x = common(name, fts[0], fts[1], fts[2]);
            assertClose(out, name, ReferenceSpherical.karcher(x, 10, 1e-5));
        }
        try (Checkpoint c = Checkpoint.open(out)) {
            assertArrayEquals(new long[] {VOCAB - 3, H}, c.tensor(HEAD).info().shape());
        }
        Path lone = merge("karcher-lone", "merge_method: karcher\nmodels: [FT1]\n");
        for (String name : ALL) MergeEndToEndTest.assertTensor(lone, name, read(fts[0], name), DType.BF16);
    }

    @Test
    void modelStockWholeAndFilterWise() throws IOException {
        for (boolean filterWise : new boolean[] {false, true}) {
            Path out = merge("model-stock-" + filterWise, """
                    merge_method: model_stock
                    base_model: BASE
                    models: [FT1, FT2, FT3]
                    parameters: {filter_wise: FW}
                    """.replace("FW", Boolean.toString(filterWise)));
            for (String name : ALL) {
                float[][] x = common(name, base, fts[0], fts[1], fts[2]);
                float[] expected = new float[x[0].length];
                int row = filterWise ? H : x[0].length;
                for (int from = 0; from < expected.length; from += row) {
                    float[][] ws = new float[3][];
                    for (int j = 0; j < 3; j++) ws[j] = Arrays.copyOfRange(x[j + 1], from, from + row);
                    float[] r = ReferenceSpherical.modelStock(Arrays.copyOfRange(x[0], from, from + row), ws);
                    System.arraycopy(r, 0, expected, from, row);
                }
                MergeEndToEndTest.assertTensor(out, name, expected, DType.BF16);
            }
        }
    }

    @Test
    void nearswap() throws IOException {
        Path out = merge("nearswap", """
                merge_method: nearswap
                base_model: BASE
                models: [BASE, FT1]
                parameters: {t: 0.002}
                """);
        for (String name : ALL) {
            float[][] v = common(name, base, fts[0]);
            MergeEndToEndTest.assertTensor(out, name, ReferenceSpherical.nearswap(0.002f, v[0], v[1]), DType.BF16);
        }
    }

    @Test
    void passthroughSlicesStackAndRenameLayers() throws IOException {
        Path out = merge("stack", """
                merge_method: passthrough
                slices:
                  - sources:
                      - {model: FT1, layer_range: [0, 2]}
                  - sources:
                      - model: FT3
                        layer_range: [1, 2]
                        parameters: {scale: [{filter: q_proj, value: 0.5}, {value: 1.0}]}
                """);
        MergeEndToEndTest.assertTensor(out, EMBED, read(fts[0], EMBED), DType.BF16);
        MergeEndToEndTest.assertTensor(out, Q0, read(fts[0], Q0), DType.BF16);
        MergeEndToEndTest.assertTensor(out, Q1, read(fts[0], Q1), DType.BF16);
        float[] scaled = read(fts[2], Q1).clone();
        for (int i = 0; i < scaled.length; i++) scaled[i] *= 0.5f;
        MergeEndToEndTest.assertTensor(out, "model.layers.2.self_attn.q_proj.weight", scaled, DType.BF16);
        MergeEndToEndTest.assertTensor(out, NORM, read(fts[2], NORM), DType.BF16);
        MergeEndToEndTest.assertTensor(out, HEAD, read(fts[2], HEAD), DType.BF16);
        try (Checkpoint c = Checkpoint.open(out)) {
            TreeSet<String> names = new TreeSet<>();
            for (StoredTensor t : c.tensors()) names.add(t.name());
            assertEquals(new TreeSet<>(List.of(EMBED, Q0, Q1, "model.layers.2.self_attn.q_proj.weight", NORM, HEAD)), names);
        }
        assertEquals(3, Json.read(out.resolve("config.json")).get("num_hidden_layers").asInt());
    }

    @Test
    void slerpSlicesCrossLayersWithOneLayerSlicesAtGradientEnd() throws IOException {
        Path out = merge("slerp-slices", """
                merge_method: slerp
                base_model: BASE
                slices:
                  - sources:
                      - {model: BASE, layer_range: [0, 1]}
                      - {model: FT1, layer_range: [1, 2]}
                  - sources:
                      - {model: BASE, layer_range: [1, 2]}
                      - {model: FT1, layer_range: [0, 1]}
                parameters: {t: [0.2, 0.8]}
                """);
        // one-layer slices sit at t = 1 (as mergekit), tensors outside the layers at t = 0
        MergeEndToEndTest.assertTensor(out, Q0, ReferenceSpherical.slerp(0.8, read(base, Q0), read(fts[0], Q1)), DType.BF16);
        MergeEndToEndTest.assertTensor(out, Q1, ReferenceSpherical.slerp(0.8, read(base, Q1), read(fts[0], Q0)), DType.BF16);
        for (String name : List.of(EMBED, NORM, HEAD)) {
            float[][] v = common(name, base, fts[0]);
            MergeEndToEndTest.assertTensor(out, name, ReferenceSpherical.slerp(0.2, v[0], v[1]), DType.BF16);
        }
        assertEquals(2, Json.read(out.resolve("config.json")).get("num_hidden_layers").asInt());
    }

    @Test
    void layerRangePastTheModelsLayersIsAPlanError() throws IOException {
        Path r = dir.resolve("past.yml");
        Files.writeString(r, "merge_method: passthrough\nslices:\n  - sources:\n      - {model: " + fts[0]
                + ", layer_range: [1, 3]}\n");
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        try {
            assertEquals(2, Main.run("merge", r.toString(), "-o", dir.resolve("out-past").toString(), "-q"));
        } finally {
            System.setErr(old);
        }
        assertTrue(err.toString().contains("slices[0].sources[0].layer_range: model '" + fts[0] + "' has no layer 2 (it has 2)"),
                err.toString());
    }

    @Test
    void outputIsIdenticalForAnyThreadCountAndChunkSize() throws IOException {
        String recipe = """
                merge_method: karcher
                models: [FT1, FT2, FT3]
                """;
        byte[] a = Files.readAllBytes(merge("det-a", recipe, "--threads", "1", "--chunk-size", "5").resolve("model.safetensors"));
        byte[] b = Files.readAllBytes(merge("det-b", recipe, "--threads", "3").resolve("model.safetensors"));
        assertArrayEquals(a, b);
        String rows = """
                merge_method: model_stock
                base_model: BASE
                models: [FT1, FT2, FT3]
                parameters: {filter_wise: true}
                """;
        byte[] c = Files.readAllBytes(merge("det-c", rows, "--threads", "1", "--chunk-size", "3").resolve("model.safetensors"));
        byte[] d = Files.readAllBytes(merge("det-d", rows, "--threads", "4").resolve("model.safetensors"));
        assertArrayEquals(c, d);
        assertTrue(a.length > 0 && c.length > 0);
    }
}
