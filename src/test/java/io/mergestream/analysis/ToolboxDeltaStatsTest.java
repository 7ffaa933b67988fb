package io.mergestream.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.analysis.DeltaStats.Figures;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.tensor.DType;
import io.mergestream.testdata.FamilyGenerator;
import io.mergestream.testdata.FamilySpec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** delta-stats figures against values computed here from the raw floats, determinism, and the verdicts. */
class ToolboxDeltaStatsTest {

    static final String UP0 = "model.layers.0.mlp.up_proj.weight";
    static final String UP1 = "model.layers.1.mlp.up_proj.weight";
    static final String Q1 = "model.layers.1.self_attn.q_proj.weight";
    static final String NORM = "model.norm.weight";

    @TempDir
    static Path dir;

    static float[] up0b, up0m, up1b, up1m, q1b, q1m, normB, normM;

    @BeforeAll
    static void write() {
        Random rnd = new Random(11);
        up0b = gaussian(rnd, 40 * 50, 0.02f);
        up0m = perturb(rnd, up0b);
        up1b = gaussian(rnd, 2000, 0.02f);
        up1m = perturb(rnd, up1b);
        q1b = gaussian(rnd, 33 * 17, 0.02f);
        q1m = perturb(rnd, q1b);
        normB = new float[64];
        Arrays.fill(normB, 1f);
        normM = perturb(rnd, normB);
        TestModels.write(dir.resolve("base"), DType.F32, new TestModels.Model()
                .put(UP0, new long[] {40, 50}, up0b).put(UP1, new long[] {2000}, up1b)
                .put(Q1, new long[] {33, 17}, q1b).put(NORM, new long[] {64}, normB)
                .put("only.in.base", new long[] {3}, new float[3])
                .put("model.embed_tokens.weight", new long[] {4, 2}, new float[8]));
        TestModels.write(dir.resolve("ft"), DType.F32, new TestModels.Model()
                .put(UP0, new long[] {40, 50}, up0m).put(UP1, new long[] {2000}, up1m)
                .put(Q1, new long[] {33, 17}, q1m).put(NORM, new long[] {64}, normM)
                .put("model.embed_tokens.weight", new long[] {5, 2}, new float[10])
                .put("only.in.model", new long[] {2}, new float[2]));
    }

    static float[] gaussian(Random rnd, int n, float s) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian() * s;
        return v;
    }

    /** Laplace-like deltas, some exact zeros, some above 0.03. */
    static float[] perturb(Random rnd, float[] v) {
        float[] out = v.clone();
        for (int i = 0; i < v.length; i++) {
            int kind = rnd.nextInt(20);
            float d = kind == 0 ? 0f : kind == 1 ? (float) rnd.nextGaussian() * 0.05f
                    : (float) (Math.log(rnd.nextDouble()) * (rnd.nextBoolean() ? 0.0015 : -0.0015));
            out[i] = v[i] + d;
        }
        return out;
    }

    static DeltaStats.Report compute(Path base, Path model, int threads, int block, int chunkBlocks) {
        try (Checkpoint b = Checkpoint.open(base); Checkpoint m = Checkpoint.open(model);
             ChunkRunner runner = new ChunkRunner(threads, block * chunkBlocks);
             Progress p = new Progress(System.err, Progress.Mode.QUIET, 1, 1)) {
            return DeltaStats.compute(b, m, runner, block, p);
        }
    }

    /** The figures computed directly from the values (f32 subtraction, double sums, sorted quantiles). */
    static void assertFigures(String what, Figures f, float[][] bases, float[][] models) {
        int n = 0;
        for (float[] b : bases) n += b.length;
        double[] abs = new double[n];
        double sD = 0, sD2 = 0, sMB = 0, sM2 = 0, sB2 = 0, max = 0;
        long small = 0, large = 0;
        int k = 0;
        for (int t = 0; t < bases.length; t++) {
            for (int i = 0; i < bases[t].length; i++) {
                float b = bases[t][i];
                float m = models[t][i];
                float d = m - b;
                abs[k++] = Math.abs(d);
                sD += d;
                sD2 += (double) d * d;
                sMB += (double) m * b;
                sM2 += (double) m * m;
                sB2 += (double) b * b;
                max = Math.max(max, Math.abs(d));
                if (Math.abs(d) <= 0.005) small++;
                if (Math.abs(d) <= 0.03) large++;
            }
        }
        Arrays.sort(abs);
        double mean = sD / n;
        assertEquals(n, f.elements(), what + " elements");
        assertEquals(mean, f.mean(), 1e-12, what + " mean");
        assertEquals(Math.sqrt(sD2 / n - mean * mean), f.std(), 1e-9, what + " std");
        assertEquals(sMB / Math.sqrt(sM2 * sB2), f.cosine(), 1e-12, what + " cosine");
        assertEquals(Math.sqrt(sD2 / sB2), f.relativeNorm(), 1e-12, what + " relative norm");
        assertEquals((double) small / n, f.withinSmall(), 0, what + " within 0.005");
        assertEquals((double) large / n, f.withinLarge(), 0, what + " within 0.03");
        assertEquals(max, f.max(), 0, what + " max is exact");
        double[] qs = {0.5, 0.9, 0.99};
        double[] got = {f.p50(), f.p90(), f.p99()};
        for (int i = 0; i < 3; i++) {
            double truth = abs[(int) Math.max(1, Math.ceil(qs[i] * n)) - 1];
            assertEquals(truth, got[i], truth * AbsHistogram.RELATIVE_ERROR + 1e-30,
                    what + " quantile " + qs[i] + " within the documented bound");
        }
    }

    @Test
    void figuresMatchAnIndependentComputation() {
        DeltaStats.Report r = compute(dir.resolve("base"), dir.resolve("ft"), 1, 64, 1);
        assertEquals(List.of(NORM, UP0, Q1, UP1).stream().sorted().toList(),
                r.tensors().stream().map(DeltaStats.TensorStats::name).sorted().toList());
        assertFigures(UP0, tensor(r, UP0).figures(), new float[][] {up0b}, new float[][] {up0m});
        assertFigures(Q1, tensor(r, Q1).figures(), new float[][] {q1b}, new float[][] {q1m});
        assertFigures(NORM, tensor(r, NORM).figures(), new float[][] {normB}, new float[][] {normM});
        assertEquals(List.of(0, 1), r.layers().stream().map(DeltaStats.LayerStats::layer).toList());
        assertFigures("layer 1", r.layers().get(1).figures(), new float[][] {up1b, q1b}, new float[][] {up1m, q1m});
        assertFigures("model", r.overall(), new float[][] {up0b, up1b, q1b, normB},
                new float[][] {up0m, up1m, q1m, normM});
        assertEquals("mlp.up_proj.weight", tensor(r, UP1).kind());
        assertEquals(1, tensor(r, UP1).layer());
        assertEquals(-1, tensor(r, NORM).layer());
        assertEquals(List.of("model.embed_tokens.weight", "only.in.base", "only.in.model"),
                r.skipped().stream().map(DeltaStats.Skipped::name).sorted().toList());
    }

    static DeltaStats.TensorStats tensor(DeltaStats.Report r, String name) {
        return r.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void figuresDoNotDependOnThreadsOrChunks() {
        DeltaStats.Report a = compute(dir.resolve("base"), dir.resolve("ft"), 1, 64, 1);
        DeltaStats.Report b = compute(dir.resolve("base"), dir.resolve("ft"), 2, 64, 3);
        DeltaStats.Report c = compute(dir.resolve("base"), dir.resolve("ft"), 2, 64, 7);
        for (DeltaStats.Report x : List.of(b, c)) {
            assertEquals(a.overall(), x.overall());
            assertEquals(a.layers(), x.layers());
            for (int i = 0; i < a.tensors().size(); i++) {
                assertEquals(a.tensors().get(i).figures(), x.tensors().get(i).figures());
            }
        }
    }

    @Test
    void quantileBoundHoldsAtBinEdges() {
        AbsHistogram h = new AbsHistogram();
        float[] values = {0f, 1e-13f, 0.001f, 0.00100001f, 0.0049999f, 0.005f, 0.03f, 1f, 3e7f};
        for (float v : values) h.add(Float.floatToRawIntBits(v));
        for (int i = 0; i < values.length; i++) {
            double q = (i + 1.0) / values.length;
            double truth = values[i];
            double est = h.quantile(q, 3e7f);
            double bound = truth < AbsHistogram.TINY ? AbsHistogram.TINY : truth * AbsHistogram.RELATIVE_ERROR;
            assertEquals(truth, est, bound, "quantile " + q);
        }
    }

    static DeltaStats.Report family(Path out, FamilySpec.DeltaKind deltas, boolean unrelated) {
        FamilySpec spec = FamilySpec.llama().withLayers(1).withHidden(64).withIntermediate(128).withVocab(64)
                .withFineTunes(1).withDeltas(deltas).withUnrelatedBase(unrelated);
        new FamilyGenerator(spec, 1).generate(out, false);
        return compute(out.resolve("base"), out.resolve("ft1"), 2, 1024, 2);
    }

    @Test
    void verdictOnSftLargeAndUnrelatedFamilies() {
        DeltaStats.Report sft = family(dir.resolve("sft"), FamilySpec.DeltaKind.SFT, false);
        assertEquals(Verdict.Kind.SFT_LIKE, sft.verdict().kind(), sft.verdict().summary());
        assertTrue(sft.verdict().safeDropRate() >= 0.9, sft.verdict().summary());

        DeltaStats.Report large = family(dir.resolve("large"), FamilySpec.DeltaKind.LARGE, false);
        assertEquals(Verdict.Kind.LARGE, large.verdict().kind(), large.verdict().summary());
        assertTrue(large.verdict().safeDropRate() <= 0.3, large.verdict().summary());
        assertTrue(large.overall().p50() > 0.02 && large.overall().p50() < 0.04, "median |delta| ~0.03");

        DeltaStats.Report unrelated = family(dir.resolve("unrelated"), FamilySpec.DeltaKind.SFT, true);
        assertEquals(Verdict.Kind.NOT_A_FINE_TUNE, unrelated.verdict().kind(), unrelated.verdict().summary());
        assertTrue(unrelated.verdict().summary().contains("does not look like a fine-tune of this base"));

        DeltaStats.Report same = compute(dir.resolve("sft/base"), dir.resolve("sft/base"), 1, 1024, 1);
        assertEquals(Verdict.Kind.IDENTICAL, same.verdict().kind());
    }

    @Test
    void safeDropRateFollowsTheNoiseModel() {
        assertEquals(0.9, Verdict.safeDropRate(0.005), 1e-12); // the calibration point
        assertEquals(0.99, Verdict.safeDropRate(0.0001), 1e-12); // capped
        assertEquals(0.10, Verdict.safeDropRate(0.0445), 1e-12);
    }

    @Test
    void htmlReportIsSelfContained() {
        DeltaStats.Report r = compute(dir.resolve("base"), dir.resolve("ft"), 1, 64, 1);
        String html = DeltaReport.html(r);
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        assertTrue(html.contains("<svg"), "charts");
        assertTrue(html.contains("mlp.up_proj.weight"), "heat map rows by tensor kind");
        assertTrue(html.contains(r.verdict().summary().substring(0, 20)));
        assertFalse(html.contains("<script") || html.contains("src=") || html.contains("href="), "no external resources");
    }
}
