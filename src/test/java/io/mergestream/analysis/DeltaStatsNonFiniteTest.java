package io.mergestream.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.Warnings;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NaN and ±Inf deltas: counted per tensor, left out of every figure (which stay finite and equal those of the
 * finite elements alone), one warning per tensor, and no verdict.
 */
class DeltaStatsNonFiniteTest {

    @Test
    void nonFiniteDeltasAreCountedExcludedAndBlockTheVerdict(@TempDir Path tmp) {
        int n = 4096;
        float[] base = new float[n];
        float[] model = new float[n];
        for (int i = 0; i < n; i++) {
            base[i] = 0.02f * (float) Math.sin(i * 0.37);
            model[i] = base[i] + 0.001f * (float) Math.cos(i * 1.3);
        }
        float[] dirty = model.clone();
        dirty[10] = Float.NaN;
        dirty[2000] = Float.POSITIVE_INFINITY;
        float[] dirtyBase = base.clone();
        dirtyBase[5] = Float.NEGATIVE_INFINITY;
        long[] shape = {4, 1024};
        Path b = TestModels.write(tmp.resolve("base"), DType.F32, new TestModels.Model()
                .put("a.weight", shape, base).put("b.weight", shape, dirtyBase).put("c.weight", shape, base));
        Path m = TestModels.write(tmp.resolve("model"), DType.F32, new TestModels.Model()
                .put("a.weight", shape, dirty).put("b.weight", shape, model).put("c.weight", shape, model));
        List<String> warnings = Collections.synchronizedList(new ArrayList<>());
        Warnings.Listener previous = Warnings.set(warnings::add);
        DeltaStats.Report r;
        try (Checkpoint cb = Checkpoint.open(b); Checkpoint cm = Checkpoint.open(m);
             ChunkRunner runner = new ChunkRunner(2, DeltaStats.DEFAULT_BLOCK);
             Progress quiet = new Progress(System.err, Progress.Mode.QUIET, 1, 1)) {
            r = DeltaStats.compute(cb, cm, runner, DeltaStats.DEFAULT_BLOCK, quiet);
        } finally {
            Warnings.set(previous);
        }
        DeltaStats.Figures a = r.tensors().get(0).figures();
        DeltaStats.Figures c = r.tensors().get(2).figures();
        assertEquals(2, a.nonFinite());
        assertEquals(n - 2, a.elements());
        assertEquals(1, r.tensors().get(1).figures().nonFinite());
        assertEquals(0, c.nonFinite());
        assertEquals(3, r.overall().nonFinite());
        for (double v : new double[] {a.mean(), a.std(), a.p50(), a.p99(), a.max(), a.cosine(), a.relativeNorm(),
                r.overall().mean(), r.overall().p50(), r.overall().max()}) {
            assertTrue(Double.isFinite(v), "a figure is not finite: " + a + " / " + r.overall());
        }
        // the finite deltas of a.weight are those of c.weight but two: the max cannot exceed c's
        assertTrue(a.max() <= c.max());
        assertEquals(Verdict.Kind.NON_FINITE, r.verdict().kind());
        assertEquals("cannot give a verdict: 2 non-finite values in a.weight (3 in all, in 2 tensors)",
                r.verdict().summary());
        assertTrue(Double.isNaN(r.verdict().safeDropRate()));
        List<String> nonFinite = warnings.stream().filter(w -> w.contains("NaN or infinite")).toList();
        assertEquals(2, nonFinite.size(), warnings.toString());
        assertTrue(nonFinite.get(0).startsWith("a.weight: 2 of 4096 deltas are NaN or infinite"), nonFinite.get(0));
        assertTrue(nonFinite.get(1).startsWith("b.weight: 1 of 4096 deltas are NaN or infinite"), nonFinite.get(1));
    }
}
