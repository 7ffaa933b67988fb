package io.mergestream.analysis;

import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import io.mergestream.engine.MappedInputFault;
import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.method.ChunkBuffers;
import io.mergestream.kernel.TensorView;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * {@code mergestream delta-stats}: statistics of {@code delta = model - base} (decoded to f32, subtracted in
 * f32 as the merge kernels do) in one streamed pass over the mapped checkpoints, per tensor, per layer and
 * for the whole model, and a {@link Verdict}. Memory stays flat: |delta| goes into {@link AbsHistogram}s
 * (exact integer counts; one per thread, one per layer, one for the model), never into stored values.
 * Floating-point sums are block-ordered ({@link BlockReduction}), so every figure is the same whatever the thread
 * count or chunk size.
 *
 * <p>Non-finite deltas (NaN or ±Inf in the base or the model, or a difference that overflows f32) are
 * counted per tensor and left out of every figure: one NaN would otherwise make the mean, the quantiles and
 * the verdict NaN. A tensor with any is reported by a warning, and the report then gives no verdict.
 *
 * <p>This pass runs its own scalar loop over {@link TensorView}s with {@link ScalarKernel}'s decode helpers
 * rather than a new {@code MergeKernel} reduction: it is read once per tensor and bound by memory.
 */
public final class DeltaStats {

    /** The DARE paper's delta scales: SFT deltas lie mostly within 0.002-0.005, continued pre-training ~0.03. */
    public static final double SMALL = 0.005;
    public static final double LARGE = 0.03;
    /** Elements per block of floating-point sums (the runner's chunk must be a multiple). */
    public static final int DEFAULT_BLOCK = 1 << 14;

    private static final int SUMS = 5; // sum d, sum d^2, sum m*b, sum m^2, sum b^2

    private DeltaStats() {}

    /**
     * The figures of a set of elements: {@code elements} finite deltas, {@code nonFinite} left out. Fractions
     * are of the finite ones; NaN where undefined (no elements, zero norm).
     */
    public record Figures(long elements, double mean, double std, double rms, double p50, double p90, double p99,
                          double max, double withinSmall, double withinLarge, double cosine, double relativeNorm,
                          long nonFinite) {}

    /** Sums over a set of elements: exact integers, histogram, and doubles added in a fixed order. */
    public static final class Acc {
        long n;
        double sumD, sumD2, sumMB, sumM2, sumB2;
        long withinSmall, withinLarge, nonFinite;
        int maxBits;
        final AbsHistogram histogram = new AbsHistogram();

        void add(Acc o) {
            n += o.n;
            sumD += o.sumD;
            sumD2 += o.sumD2;
            sumMB += o.sumMB;
            sumM2 += o.sumM2;
            sumB2 += o.sumB2;
            withinSmall += o.withinSmall;
            withinLarge += o.withinLarge;
            nonFinite += o.nonFinite;
            maxBits = Math.max(maxBits, o.maxBits);
            histogram.add(o.histogram);
        }

        public AbsHistogram histogram() {
            return histogram;
        }

        public Figures figures() {
            double max = n == 0 ? Double.NaN : Float.intBitsToFloat(maxBits);
            double mean = sumD / n;
            double var = Math.max(0, sumD2 / n - mean * mean);
            return new Figures(n, mean, Math.sqrt(var), Math.sqrt(sumD2 / n), histogram.quantile(0.5, max),
                    histogram.quantile(0.9, max), histogram.quantile(0.99, max), max, (double) withinSmall / n,
                    (double) withinLarge / n, sumMB / Math.sqrt(sumM2 * sumB2), Math.sqrt(sumD2 / sumB2), nonFinite);
        }
    }

    /** One compared tensor. {@code layer} is -1 outside the layer stack; {@code kind} is the name without it. */
    public record TensorStats(String name, String kind, int layer, long[] shape, DType baseDtype, DType modelDtype,
                              Figures figures) {}

    public record LayerStats(int layer, Figures figures) {}

    /** A tensor not compared, and why. */
    public record Skipped(String name, String reason) {}

    /**
     * The whole report. {@code weightedCosine} and {@code weightedRelativeNorm} average the per-tensor values
     * weighted by element count (so that a few norm vectors of ones cannot dominate them, as they do the
     * whole-model cosine of a small model).
     */
    public record Report(Path base, Path model, List<TensorStats> tensors, List<LayerStats> layers, Figures overall,
                         AbsHistogram histogram, double weightedCosine, double weightedRelativeNorm, Verdict verdict,
                         List<Skipped> skipped) {}

    /** The kind of a tensor: its name without the layer prefix ({@code self_attn.q_proj.weight}). */
    public static String kind(String name) {
        return ParameterResolver.withoutLayerPrefix(name);
    }

    /**
     * Computes the report, summing in blocks of {@code blockElements}; {@code progress} counts the bytes read.
     */
    public static Report compute(InputModel base, InputModel model, ChunkRunner runner, int blockElements,
                                 Progress progress) {
        // a checkpoint truncated while mapped faults on its pages: one line naming the file (exit 1)
        return MappedInputFault.guard(List.of(base, model), () -> {
            try (ChunkBuffers buffers = new ChunkBuffers()) {
                return compute(base, model, runner, blockElements, progress, buffers);
            }
        });
    }

    private static Report compute(InputModel base, InputModel model, ChunkRunner runner, int blockElements,
                                  Progress progress, ChunkBuffers buffers) {
        List<TensorStats> tensors = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        Map<Integer, Acc> layers = new TreeMap<>();
        Acc overall = new Acc();
        String worst = null; // the tensor with the most non-finite deltas
        long worstCount = 0, nonFiniteTensors = 0;
        double cosWeighted = 0;
        double relWeighted = 0;
        long weight = 0;
        for (TensorSource b : base.tensors()) {
            TensorSource m = model.tensor(b.name());
            String why = m == null ? "only in the base"
                    : !b.info().dtype().isMergeable() || !m.info().dtype().isMergeable() ? "not a float tensor ("
                            + b.info().dtype() + ", " + m.info().dtype() + ")"
                    : !b.info().sameShape(m.info().shape()) ? "shape " + m.info().shapeString() + " in the model, "
                            + b.info().shapeString() + " in the base"
                    : null;
            if (why != null) {
                skipped.add(new Skipped(b.name(), why));
                continue;
            }
            progress.startTensor(b.name());
            // block by block through windows: a computed model (a LoRA adapter's W + s·B·A) is never whole
            BlockReduction.Result<Acc> sums = BlockReduction.run(runner, b.info().elements(), blockElements, SUMS, Acc::new,
                    (a, start, count, s) -> block(buffers.window(b, 0, start, count), buffers.window(m, 1, start, count),
                            start, count, a, s));
            Acc acc = total(sums, b.info().elements());
            progress.add(b.bytesRead() + m.bytesRead());
            progress.finishTensor();
            if (acc.nonFinite > 0) {
                Warnings.warn(b.name() + ": " + acc.nonFinite + " of " + b.info().elements() + " deltas are NaN or"
                        + " infinite (in " + base.location() + " or " + model.location() + "); left out of the statistics");
                nonFiniteTensors++;
                if (acc.nonFinite > worstCount) {
                    worst = b.name();
                    worstCount = acc.nonFinite;
                }
            }
            OptionalInt layer = ParameterResolver.layerIndex(b.name());
            Figures f = acc.figures();
            tensors.add(new TensorStats(b.name(), kind(b.name()), layer.orElse(-1), b.info().shape(),
                    b.info().dtype(), m.info().dtype(), f));
            if (layer.isPresent()) layers.computeIfAbsent(layer.getAsInt(), l -> new Acc()).add(acc);
            overall.add(acc);
            if (acc.n > 0 && Double.isFinite(f.cosine()) && Double.isFinite(f.relativeNorm())) {
                cosWeighted += f.cosine() * acc.n;
                relWeighted += f.relativeNorm() * acc.n;
                weight += acc.n;
            }
        }
        for (TensorSource m : model.tensors()) {
            if (!base.contains(m.name())) skipped.add(new Skipped(m.name(), "only in the model"));
        }
        if (tensors.isEmpty()) {
            throw new MergestreamException(model.location() + ": no float tensor in common with the base "
                    + base.location() + " (same name and shape)");
        }
        List<LayerStats> layerStats = new ArrayList<>();
        layers.forEach((l, a) -> layerStats.add(new LayerStats(l, a.figures())));
        Figures all = overall.figures();
        double wCos = weight == 0 ? Double.NaN : cosWeighted / weight;
        double wRel = weight == 0 ? Double.NaN : relWeighted / weight;
        return new Report(base.location(), model.location(), List.copyOf(tensors), List.copyOf(layerStats), all,
                overall.histogram, wCos, wRel,
                worst != null ? Verdict.nonFinite(all.nonFinite(), worst, worstCount, nonFiniteTensors)
                        : Verdict.of(all, wCos, wRel),
                List.copyOf(skipped));
    }

    /** The sums of one tensor pair of {@code n} elements. */
    static Acc tensor(TensorView base, TensorView model, long n, ChunkRunner runner, int blockElements) {
        BlockReduction.Result<Acc> r = BlockReduction.run(runner, n, blockElements, SUMS, Acc::new,
                (acc, start, count, sums) -> block(base, model, start, count, acc, sums));
        return total(r, n);
    }

    private static Acc total(BlockReduction.Result<Acc> r, long n) {
        Acc total = new Acc();
        for (Acc a : r.states()) {
            total.withinSmall += a.withinSmall;
            total.withinLarge += a.withinLarge;
            total.nonFinite += a.nonFinite;
            total.maxBits = Math.max(total.maxBits, a.maxBits);
            total.histogram.add(a.histogram);
        }
        total.n = n - total.nonFinite;
        double[] t = r.totals();
        total.sumD = t[0];
        total.sumD2 = t[1];
        total.sumMB = t[2];
        total.sumM2 = t[3];
        total.sumB2 = t[4];
        return total;
    }

    private static void block(TensorView base, TensorView model, long start, int count, Acc acc, double[] sums) {
        double sD = 0, sD2 = 0, sMB = 0, sM2 = 0, sB2 = 0;
        long small = 0, large = 0, nonFinite = 0;
        int maxBits = acc.maxBits;
        long[] hist = acc.histogram.counts;
        for (long i = start, end = start + count; i < end; i++) {
            float b = base.get(i);
            float m = model.get(i);
            float d = m - b;
            if (!Float.isFinite(d)) { // NaN/Inf in either input, or an overflowing difference: counted, not summed
                nonFinite++;
                continue;
            }
            int bits = Float.floatToRawIntBits(d) & 0x7FFFFFFF;
            hist[AbsHistogram.bin(bits)]++;
            if (bits > maxBits) maxBits = bits;
            double ad = Float.intBitsToFloat(bits);
            if (ad <= SMALL) small++;
            if (ad <= LARGE) large++;
            sD += d;
            sD2 += (double) d * d;
            sMB += (double) m * b;
            sM2 += (double) m * m;
            sB2 += (double) b * b;
        }
        acc.maxBits = maxBits;
        acc.withinSmall += small;
        acc.withinLarge += large;
        acc.nonFinite += nonFinite;
        sums[0] = sD;
        sums[1] = sD2;
        sums[2] = sMB;
        sums[3] = sM2;
        sums[4] = sB2;
    }
}
