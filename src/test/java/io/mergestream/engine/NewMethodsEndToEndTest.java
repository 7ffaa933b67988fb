package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.cli.Main;
import io.mergestream.kernel.DareMask;
import io.mergestream.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * breadcrumbs, breadcrumbs_ties, della_linear, della, sce, ram, ramplus_tl and {@code rescale: l1}, each run
 * through the command line and compared element by element, bit for bit, with a plain implementation
 * written here from merge-semantics.md and mergekit's definitions (full sorts, whole-tensor arrays, no
 * selection passes, no chunks). The family has quantised deltas (many equal magnitudes and exact zeros),
 * vocabulary rows a fine-tune lacks or adds, 1-D and 2-D tensors, and a fine-tune equal to the base.
 */
class NewMethodsEndToEndTest {

    static final int H = 16;
    static final int VOCAB = 23;
    static final String EMBED = "model.embed_tokens.weight";
    static final String Q0 = "model.layers.0.self_attn.q_proj.weight";
    static final String Q1 = "model.layers.1.self_attn.q_proj.weight";
    static final String NORM = "model.norm.weight";
    static final String HEAD = "lm_head.weight";
    static final List<String> NAMES = List.of(EMBED, Q0, Q1, NORM, HEAD);

    @TempDir
    static Path dir;
    static Path base;
    /** ft1 (2 more vocabulary rows), ft2 (3 fewer), ft3, and same (equal to the base: zero deltas). */
    static Path ft1, ft2, ft3, same;

    @BeforeAll
    static void writeFamily() {
        Random rnd = new Random(11);
        float[] embed = MergeEndToEndTest.gaussian(rnd, VOCAB * H, 0.02f);
        float[][] sq = {MergeEndToEndTest.gaussian(rnd, H * H, 0.02f), MergeEndToEndTest.gaussian(rnd, H * H, 0.02f)};
        float[] norm = new float[H];
        Arrays.fill(norm, 1f);
        float[] head = MergeEndToEndTest.gaussian(rnd, VOCAB * H, 0.02f);
        base = TestModels.write(dir.resolve("base"), DType.BF16, model(embed, VOCAB, sq, norm, head));
        same = TestModels.write(dir.resolve("same"), DType.BF16, model(embed, VOCAB, sq, norm, head));
        int[] rows = {VOCAB + 2, VOCAB - 3, VOCAB};
        Path[] out = new Path[3];
        for (int j = 0; j < 3; j++) {
            float[] e = MergeEndToEndTest.perturb(rnd, MergeEndToEndTest.resize(embed, rows[j] * H, rnd), j);
            float[] h = MergeEndToEndTest.perturb(rnd, MergeEndToEndTest.resize(head, rows[j] * H, rnd), j);
            float[][] s = {MergeEndToEndTest.perturb(rnd, sq[0], j), MergeEndToEndTest.perturb(rnd, sq[1], j)};
            out[j] = TestModels.write(dir.resolve("ft" + (j + 1)), DType.BF16,
                    model(e, rows[j], s, MergeEndToEndTest.perturb(rnd, norm, j), h));
        }
        ft1 = out[0];
        ft2 = out[1];
        ft3 = out[2];
    }

    static TestModels.Model model(float[] embed, int rows, float[][] sq, float[] norm, float[] head) {
        return new TestModels.Model()
                .put(EMBED, new long[] {rows, H}, embed)
                .put(Q0, new long[] {H, H}, sq[0])
                .put(Q1, new long[] {H, H}, sq[1])
                .put(NORM, new long[] {H}, norm)
                .put(HEAD, new long[] {rows, H}, head);
    }

    static Path recipe(String name, String body) throws IOException {
        return MergeRuns.recipe(dir, name, body, Map.of("BASE", base, "FT1", ft1, "FT2", ft2, "FT3", ft3, "SAME", same));
    }

    static Path merge(Path recipe, String out, String... extra) {
        return MergeRuns.merge(dir, recipe, out, extra);
    }

    static int rowLength(String name) {
        return H; // every tensor here has rows of H (the 1-D norm is one row of H)
    }

    // ---------------------------------------------------------------- the plain reference

    /** delta of model x against b on the base's shape: x's extra rows ignored, missing rows give 0. */
    static float[] delta(float[] b, float[] x) {
        float[] d = new float[b.length];
        for (int i = 0; i < b.length; i++) d[i] = i < x.length ? x[i] - b[i] : 0f;
        return d;
    }

    /** Flat indices ordered by |d| descending, equal |d| by ascending index. */
    static Integer[] byMagnitudeDescending(float[] d) {
        Integer[] order = new Integer[d.length];
        for (int i = 0; i < d.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -Math.abs(d[i])).thenComparingInt(i -> i));
        return order;
    }

    static float[] breadcrumbs(float[] d, double density, double gamma) {
        if (density >= 1) return d.clone();
        int n = d.length;
        long keep = (long) Math.floor(density * n);
        long top = (long) Math.floor(gamma * n);
        if (top + keep > n) top = n - keep;
        Integer[] order = byMagnitudeDescending(d);
        float[] s = new float[n];
        for (long r = top; r < top + keep; r++) s[order[(int) r]] = d[order[(int) r]];
        return s;
    }

    static float[] della(float[] d, int rowLength, double density, double epsilon, boolean rescale, long seed,
                         int ordinal, String name) {
        if (density >= 1) return d.clone();
        long key = DareMask.streamKey(seed, ordinal, name);
        float[] s = new float[d.length];
        for (int row = 0; row < d.length; row += rowLength) {
            int n = rowLength;
            Integer[] cols = new Integer[n];
            for (int c = 0; c < n; c++) cols[c] = c;
            int r0 = row;
            Arrays.sort(cols, Comparator.comparingDouble((Integer c) -> Math.abs(d[r0 + c])).thenComparingInt(c -> c));
            for (int rank = 1; rank <= n; rank++) {
                int i = row + cols[rank - 1];
                double p = n == 1 ? density : (density - epsilon) + 2 * epsilon * (double) (rank - 1) / (double) (n - 1);
                if (DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), DareMask.threshold(p))) {
                    s[i] = rescale ? d[i] / (float) p : d[i];
                }
            }
        }
        return s;
    }

    static float[] dare(float[] d, double density, long seed, int ordinal, String name) {
        long key = DareMask.streamKey(seed, ordinal, name);
        float[] s = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            if (DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), DareMask.threshold(density))) s[i] = d[i];
        }
        return s;
    }

    /** rescale: l1 on a kept (unscaled) delta: divide by (float)(Σ|kept| / Σ|d|) unless either is < 1e-7. */
    static float[] l1(float[] d, float[] kept) {
        double before = 0, after = 0;
        for (int i = 0; i < d.length; i++) {
            before += Math.abs(d[i]);
            after += Math.abs(kept[i]);
        }
        if (before < 1e-7 || after < 1e-7) return kept;
        float q = (float) (after / before);
        float[] s = new float[d.length];
        for (int i = 0; i < d.length; i++) s[i] = kept[i] / q;
        return s;
    }

    /** merge-semantics.md's combination of sparsified deltas s[j] (weighted_sum election when elect). */
    static float[] combine(float[] b, float[][] s, float[] w, boolean elect, boolean normalize, float lambda) {
        float[] out = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            float[] t = new float[w.length];
            for (int j = 0; j < w.length; j++) t[j] = w[j] * s[j][i];
            float mixed = 0f, divisor = 0f;
            if (!elect) {
                mixed = t[0];
                for (int j = 1; j < w.length; j++) mixed += t[j];
                divisor = w[0];
                for (int j = 1; j < w.length; j++) divisor += w[j];
            } else {
                float e = 0f;
                for (float tj : t) e += tj;
                for (int j = 0; j < w.length; j++) {
                    if (e >= 0f ? t[j] > 0f : t[j] < 0f) {
                        mixed += t[j];
                        divisor += w[j];
                    }
                }
            }
            if (normalize) mixed = mixed / (Math.abs(divisor) < 1e-8f ? 1f : divisor);
            out[i] = b[i] + lambda * mixed;
        }
        return out;
    }

    static float[] sce(float[] b, float[][] d, double topk) {
        int m = d.length, n = b.length;
        float[][] v = new float[m][];
        for (int j = 0; j < m; j++) v[j] = d[j].clone();
        if (topk < 1) {
            float[] var = new float[n];
            int nonzero = 0;
            for (int i = 0; i < n; i++) {
                float sum = 0f;
                for (int j = 0; j < m; j++) sum = j == 0 ? d[0][i] : sum + d[j][i];
                float mean = sum / m;
                float sq = 0f;
                for (int j = 0; j < m; j++) sq += (d[j][i] - mean) * (d[j][i] - mean);
                var[i] = sq / m;
                if (var[i] != 0) nonzero++;
            }
            long k = (long) Math.floor(topk * nonzero);
            Integer[] order = byMagnitudeDescending(var);
            boolean[] keep = new boolean[n];
            for (int r = 0; r < k; r++) keep[order[r]] = true;
            for (int j = 0; j < m; j++) for (int i = 0; i < n; i++) if (!keep[i]) v[j][i] = 0f;
        }
        double[] meanSq = new double[m];
        double total = 0;
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < n; i++) meanSq[j] += (double) v[j][i] * v[j][i];
            meanSq[j] /= n;
            total += meanSq[j];
        }
        float[] w = new float[m];
        for (int j = 0; j < m; j++) w[j] = Math.abs(total) < 1e-6 ? (float) (1.0 / m) : (float) (meanSq[j] / total);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float e = v[0][i];
            for (int j = 1; j < m; j++) e += v[j][i];
            float mixed = 0f, div = 0f;
            for (int j = 0; j < m; j++) {
                if (e >= 0f ? v[j][i] > 0f : v[j][i] < 0f) {
                    mixed += v[j][i] * w[j];
                    div += w[j];
                }
            }
            out[i] = b[i] + mixed / Math.max(div, 1e-6f);
        }
        return out;
    }

    static float[] ram(float[] b, float[][] d, double epsilon, boolean plus, double r, double alpha) {
        int m = d.length, n = b.length;
        float eps = (float) epsilon;
        int[] count = new int[n];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) if (Math.abs(d[j][i]) > eps) count[i]++;
        float[] lambda = new float[m];
        for (int j = 0; j < m; j++) {
            lambda[j] = 1f;
            if (!plus) continue;
            long shared = 0, unique = 0;
            for (int i = 0; i < n; i++) {
                if (Math.abs(d[j][i]) <= eps) continue;
                if (count[i] > 1) shared++;
                if (count[i] == 1) unique++;
            }
            double rho = shared / Math.max((double) unique, epsilon);
            lambda[j] = (float) (1 + r * Math.min(Math.max(rho, 0), alpha));
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float mixed = 0f;
            for (int j = 0; j < m; j++) {
                if (Math.abs(d[j][i]) > eps) mixed += count[i] == 1 ? d[j][i] * lambda[j] : d[j][i] / count[i];
            }
            out[i] = b[i] + mixed;
        }
        return out;
    }

    // ---------------------------------------------------------------- helpers over the family

    static float[][] deltas(String name, Path... models) {
        float[] b = MergeEndToEndTest.read(base, name);
        float[][] d = new float[models.length][];
        for (int j = 0; j < models.length; j++) d[j] = delta(b, MergeEndToEndTest.read(models[j], name));
        return d;
    }

    static void check(Path out, String name, float[] expected) {
        MergeEndToEndTest.assertTensor(out, name, expected, DType.BF16);
    }

    // ---------------------------------------------------------------- tests

    @Test
    void breadcrumbsKeepsTheBandBelowTheOutliers() throws IOException {
        Path r = recipe("bc", """
                merge_method: breadcrumbs
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.6, density: 0.5, gamma: 0.05}
                  - model: FT2
                    parameters: {weight: 0.4, density: 0.3, gamma: 0.6}
                  - model: SAME
                    parameters: {weight: 0.2, density: 0.5}
                parameters: {lambda: 0.9}
                """);
        Path out = merge(r, "out-bc", "--chunk-size", "37", "--threads", "2");
        double[] rho = {0.5, 0.3, 0.5}, gamma = {0.05, 0.6, 0.01};
        for (String name : NAMES) {
            float[] b = MergeEndToEndTest.read(base, name);
            float[][] d = deltas(name, ft1, ft2, same);
            float[][] s = new float[3][];
            for (int j = 0; j < 3; j++) s[j] = breadcrumbs(d[j], rho[j], gamma[j]);
            check(out, name, combine(b, s, new float[] {0.6f, 0.4f, 0.2f}, false, false, 0.9f));
        }
    }

    @Test
    void breadcrumbsTiesWithGammaTimesNBelowOneRemovesNoOutliers() throws IOException {
        // the norm has n = 16: floor(0.01 * 16) = 0 outliers; mergekit would drop the whole delta there
        Path r = recipe("bct", """
                merge_method: breadcrumbs_ties
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.5, density: 0.5}
                  - model: FT3
                    parameters: {weight: 0.5, density: 0.25}
                parameters: {normalize: true}
                """);
        Path out = merge(r, "out-bct");
        for (String name : NAMES) {
            float[] b = MergeEndToEndTest.read(base, name);
            float[][] d = deltas(name, ft1, ft3);
            float[][] s = {breadcrumbs(d[0], 0.5, 0.01), breadcrumbs(d[1], 0.25, 0.01)};
            check(out, name, combine(b, s, new float[] {0.5f, 0.5f}, true, true, 1f));
        }
        float[] merged = MergeEndToEndTest.read(out, NORM);
        float[] b = MergeEndToEndTest.read(base, NORM);
        int largest = byMagnitudeDescending(deltas(NORM, ft1)[0])[0];
        assertNotEquals(b[largest], merged[largest], "the largest delta of a 16-element tensor is kept");
    }

    @Test
    void dellaLinearAndDellaAgainstPerRowRanks() throws IOException {
        for (String method : List.of("della_linear", "della")) {
            Path r = recipe(method, """
                    merge_method: METHOD
                    base_model: BASE
                    models:
                      - model: FT1
                        parameters: {weight: 0.5, density: 0.5, epsilon: 0.2}
                      - model: FT2
                        parameters: {weight: 0.3, density: 0.7}
                      - model: FT3
                        parameters: {weight: 0.2, density: 1.0, epsilon: 0.3}
                    parameters: {lambda: 1.1RESCALE}
                    seed: 5
                    """.replace("METHOD", method).replace("RESCALE", method.equals("della") ? ", rescale: inverse" : ""));
            Path out = merge(r, "out-" + method, "--chunk-size", "24", "--threads", "2");
            boolean ties = method.equals("della");
            // della_linear: the default rescale (true: mergekit's L1 rule over the whole tensor); della: inverse
            // (each kept element divided by its keep probability p_r)
            for (String name : NAMES) {
                float[] b = MergeEndToEndTest.read(base, name);
                float[][] d = deltas(name, ft1, ft2, ft3);
                float[][] s = ties
                        ? new float[][] {della(d[0], rowLength(name), 0.5, 0.2, true, 5, 0, name),
                                della(d[1], rowLength(name), 0.7, 0.15, true, 5, 1, name), d[2]}
                        : new float[][] {l1(d[0], della(d[0], rowLength(name), 0.5, 0.2, false, 5, 0, name)),
                                l1(d[1], della(d[1], rowLength(name), 0.7, 0.15, false, 5, 1, name)), d[2]};
                check(out, name, combine(b, s, new float[] {0.5f, 0.3f, 0.2f}, ties, ties, 1.1f));
            }
        }
    }

    @Test
    void dellaWithoutRescaleAndWithL1() throws IOException {
        for (String rescale : List.of("false", "l1")) {
            Path r = recipe("della-" + rescale, """
                    merge_method: della_linear
                    base_model: BASE
                    models:
                      - model: FT1
                        parameters: {weight: 0.5, density: 0.4}
                      - model: SAME
                        parameters: {weight: 0.5, density: 0.4}
                    parameters: {rescale: RESCALE}
                    """.replace("RESCALE", rescale));
            Path out = merge(r, "out-della-" + rescale);
            for (String name : NAMES) {
                float[] b = MergeEndToEndTest.read(base, name);
                float[][] d = deltas(name, ft1, same);
                float[][] s = new float[2][];
                for (int j = 0; j < 2; j++) {
                    s[j] = della(d[j], rowLength(name), 0.4, 0.15, false, 0, j, name);
                    if (rescale.equals("l1")) s[j] = l1(d[j], s[j]);
                }
                check(out, name, combine(b, s, new float[] {0.5f, 0.5f}, false, false, 1f));
            }
        }
    }

    @Test
    void dellaDensityPlusMinusEpsilonMustStayInsideZeroOne() throws IOException {
        for (String p : List.of("{weight: 1, density: 0.85, epsilon: 0.15}", "{weight: 1, density: 0.1}",
                "{weight: 1, density: 0.2, epsilon: 0.2}")) {
            Path r = recipe("della-bad", "merge_method: della\nbase_model: BASE\nmodels:\n  - model: FT1\n"
                    + "    parameters: " + p + "\n");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            PrintStream old = System.err;
            System.setErr(new PrintStream(err, true));
            int code;
            try {
                code = Main.run("merge", r.toString(), "-o", dir.resolve("out-bad").toString(), "-q", "--force");
            } finally {
                System.setErr(old);
            }
            assertEquals(2, code, p);
            assertTrue(err.toString().contains("density ± epsilon must lie inside (0, 1)"), err.toString());
        }
        // just inside the bounds, and density 1 (no sparsification) with any epsilon, are fine
        Path ok = recipe("della-ok", """
                merge_method: della
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 1, density: 0.84, epsilon: 0.15}
                  - model: FT2
                    parameters: {weight: 1, density: 1.0, epsilon: 0.5}
                """);
        merge(ok, "out-della-ok");
    }

    @Test
    void rescaleL1ForDareAndTies() throws IOException {
        Path r = recipe("dare-l1", """
                merge_method: dare_linear
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.7, density: 0.3}
                  - model: FT2
                    parameters: {weight: 0.3, density: 0.6}
                  - model: SAME
                    parameters: {weight: 0.1, density: 0.6}
                parameters: {rescale: l1}
                seed: 3
                """);
        Path out = merge(r, "out-dare-l1", "--chunk-size", "19", "--threads", "2");
        for (String name : NAMES) {
            float[] b = MergeEndToEndTest.read(base, name);
            float[][] d = deltas(name, ft1, ft2, same);
            float[][] s = {l1(d[0], dare(d[0], 0.3, 3, 0, name)), l1(d[1], dare(d[1], 0.6, 3, 1, name)),
                    l1(d[2], dare(d[2], 0.6, 3, 2, name))};
            check(out, name, combine(b, s, new float[] {0.7f, 0.3f, 0.1f}, false, false, 1f));
        }
        Path t = recipe("ties-l1", """
                merge_method: ties
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.7, density: 0.3}
                  - model: FT2
                    parameters: {weight: 0.3, density: 0.6}
                parameters: {rescale: l1}
                """);
        Path tout = merge(t, "out-ties-l1");
        for (String name : NAMES) {
            float[] b = MergeEndToEndTest.read(base, name);
            float[][] d = deltas(name, ft1, ft2);
            float[][] s = {l1(d[0], breadcrumbs(d[0], 0.3, 0)), l1(d[1], breadcrumbs(d[1], 0.6, 0))};
            check(tout, name, combine(b, s, new float[] {0.7f, 0.3f}, true, true, 1f));
        }
    }

    @Test
    void sceWithAndWithoutSelection() throws IOException {
        for (String topk : List.of("1.0", "0.3", "0")) {
            Path r = recipe("sce-" + topk, """
                    merge_method: sce
                    base_model: BASE
                    models:
                      - model: FT1
                      - model: FT2
                      - model: FT3
                      - model: SAME
                    parameters: {select_topk: TOPK}
                    """.replace("TOPK", topk));
            Path out = merge(r, "out-sce-" + topk, "--chunk-size", "29", "--threads", "2");
            for (String name : NAMES) {
                float[] b = MergeEndToEndTest.read(base, name);
                check(out, name, sce(b, deltas(name, ft1, ft2, ft3, same), Double.parseDouble(topk)));
            }
        }
    }

    @Test
    void ramAndRamPlus() throws IOException {
        Path r = recipe("ram", """
                merge_method: ram
                base_model: BASE
                models: [FT1, FT2, FT3, SAME]
                parameters: {epsilon: 0.0025}
                """);
        Path out = merge(r, "out-ram", "--chunk-size", "31", "--threads", "2");
        Path rp = recipe("ramplus", """
                merge_method: ramplus_tl
                base_model: BASE
                models: [FT1, FT2, FT3]
                parameters: {r: 0.5, alpha: 0.7, epsilon: 0.0025}
                """);
        Path outPlus = merge(rp, "out-ramplus", "--chunk-size", "31", "--threads", "2");
        for (String name : NAMES) {
            float[] b = MergeEndToEndTest.read(base, name);
            check(out, name, ram(b, deltas(name, ft1, ft2, ft3, same), 0.0025, false, 0, 0));
            check(outPlus, name, ram(b, deltas(name, ft1, ft2, ft3), 0.0025, true, 0.5, 0.7));
        }
    }

    @Test
    void aSingleModelAndZeroDeltas() throws IOException {
        for (String method : List.of("breadcrumbs", "della_linear", "sce", "ram", "ramplus_tl")) {
            boolean weighted = method.startsWith("b") || method.startsWith("d");
            String params = weighted ? "\n    parameters: {weight: 1, density: 0.5}" : "";
            Path one = recipe("one-" + method, "merge_method: " + method + "\nbase_model: BASE\nmodels:\n"
                    + "  - model: FT1" + params + "\n");
            Path zero = recipe("zero-" + method, "merge_method: " + method + "\nbase_model: BASE\nmodels:\n"
                    + "  - model: SAME" + params + "\n");
            Path outOne = merge(one, "out-one-" + method);
            Path outZero = merge(zero, "out-zero-" + method);
            for (String name : NAMES) {
                float[] b = MergeEndToEndTest.read(base, name);
                float[][] d = deltas(name, ft1);
                float[] expected = switch (method) {
                    case "breadcrumbs" -> combine(b, new float[][] {breadcrumbs(d[0], 0.5, 0.01)}, new float[] {1f},
                            false, false, 1f);
                    case "della_linear" -> combine(b, new float[][] {l1(d[0], della(d[0], H, 0.5, 0.15, false, 0, 0, name))},
                            new float[] {1f}, false, false, 1f);
                    case "sce" -> sce(b, d, 1.0);
                    default -> ram(b, d, 1e-5, method.equals("ramplus_tl"), 0.1, 0.2);
                };
                check(outOne, name, expected);
                assertArrayEquals(b, MergeEndToEndTest.read(outZero, name), method + " " + name + ": zero deltas give the base");
            }
        }
    }

    @Test
    void newMethodsAreIdenticalForAnyThreadsAndChunkSize() throws IOException {
        for (String method : List.of("breadcrumbs_ties", "della", "sce")) {
            String body = method.equals("sce")
                    ? "merge_method: sce\nbase_model: BASE\nmodels: [FT1, FT2, FT3]\nparameters: {select_topk: 0.5}\n"
                    : "merge_method: " + method + "\nbase_model: BASE\nmodels:\n"
                    + "  - model: FT1\n    parameters: {weight: 0.5, density: 0.5}\n"
                    + "  - model: FT2\n    parameters: {weight: 0.5, density: 0.6}\n"
                    + "parameters: {rescale: l1}\n";
            Path r = recipe("det-" + method, body);
            byte[] a = Files.readAllBytes(merge(r, "det-a-" + method, "--threads", "1", "--chunk-size", "5")
                    .resolve("model.safetensors"));
            byte[] b = Files.readAllBytes(merge(r, "det-b-" + method, "--threads", "3")
                    .resolve("model.safetensors"));
            assertArrayEquals(a, b, method);
        }
    }
}
