package io.mergestream.analysis;

import java.util.Locale;

/**
 * What the deltas say about the fine-tune and about DARE, by the rules of docs/delta-stats.md (checked in
 * this order):
 * <ol>
 *   <li>IDENTICAL: every delta is exactly 0.</li>
 *   <li>NOT_A_FINE_TUNE: the element-weighted mean cosine(model, base) is below half of
 *       {@code 1/sqrt(1 + r^2)}, r the element-weighted relative norm. Adding a delta uncorrelated with the
 *       base leaves exactly that cosine; a model trained from another initialisation has cosine ~0 with
 *       r ~ sqrt(2): its "delta" replaces the base instead of adding to it.</li>
 *   <li>SFT_LIKE: at least {@value #SFT_FRACTION} of |delta| within {@value DeltaStats#SMALL}.</li>
 *   <li>LARGE: median |delta| at least {@value #LARGE_MEDIAN} (continued pre-training?).</li>
 *   <li>MODERATE otherwise.</li>
 * </ol>
 * For the fine-tune kinds, {@code safeDropRate} is the drop rate up to which DARE is expected to keep the
 * model: rescaled DARE keeps each delta's expectation and adds per-element noise of variance
 * {@code delta^2 p/(1-p)}; the paper's SFT results (deltas up to ~0.005 survive a 90% drop) put the tolerated
 * noise RMS at {@code TOLERATED_NOISE = 0.005 * sqrt(0.9/0.1) = 0.015}, so
 * {@code p* = tau^2 / (tau^2 + rms(delta)^2)}, rounded down to 0.01 and capped at 0.99.
 *
 * <p>NON_FINITE, before all of these: some delta is NaN or infinite. The figures then leave those out, but a
 * model with non-finite weights is broken whatever its other deltas say, so no verdict is given.
 */
public record Verdict(Kind kind, double safeDropRate, String summary) {

    public enum Kind { IDENTICAL, SFT_LIKE, MODERATE, LARGE, NOT_A_FINE_TUNE, NON_FINITE }

    public static final double SFT_FRACTION = 0.9;
    public static final double LARGE_MEDIAN = 0.01;
    public static final double TOLERATED_NOISE = 0.015;
    public static final double COSINE_FACTOR = 0.5;

    /** The drop rate p* for deltas of this RMS (see the class comment). */
    public static double safeDropRate(double rms) {
        double t2 = TOLERATED_NOISE * TOLERATED_NOISE;
        double p = t2 / (t2 + rms * rms);
        return Math.min(0.99, Math.floor(p * 100 + 1e-9) / 100);
    }

    /** The cosine(model, base) that adding a delta uncorrelated with the base, of relative norm r, leaves. */
    public static double additiveCosine(double r) {
        return 1 / Math.sqrt(1 + r * r);
    }

    /**
     * No verdict: {@code total} non-finite deltas, {@code count} of them in {@code tensor} (the most), in
     * {@code tensors} tensors.
     */
    public static Verdict nonFinite(long total, String tensor, long count, long tensors) {
        String where = tensors == 1 ? "" : fmt(" (%d in all, in %d tensors)", total, tensors);
        return new Verdict(Kind.NON_FINITE, Double.NaN, fmt("cannot give a verdict: %d non-finite values in %s%s",
                count, tensor, where));
    }

    public static Verdict of(DeltaStats.Figures all, double weightedCosine, double weightedRelativeNorm) {
        if (all.max() == 0) {
            return new Verdict(Kind.IDENTICAL, Double.NaN, "the model equals the base: every delta is 0");
        }
        double expected = additiveCosine(weightedRelativeNorm);
        if (!(weightedCosine >= COSINE_FACTOR * expected)) {
            return new Verdict(Kind.NOT_A_FINE_TUNE, Double.NaN, fmt(
                    "does not look like a fine-tune of this base: cosine(model, base) %.3f where adding a delta of "
                            + "relative norm %.2f would leave %.3f; the model replaces the base's weights rather than "
                            + "adding to them (another initialisation?), so DARE (and merging) do not apply",
                    weightedCosine, weightedRelativeNorm, expected));
        }
        double p = safeDropRate(all.rms());
        if (all.withinSmall() >= SFT_FRACTION) {
            return new Verdict(Kind.SFT_LIKE, p, fmt("SFT-like deltas: %.1f%% of |delta| within %s, median %.2g "
                            + "(the DARE paper: supervised fine-tunes have deltas mostly within 0.002-0.005 and survive "
                            + "90-99%% drop); drop rates up to %.2f are typically safe",
                    100 * all.withinSmall(), DeltaStats.SMALL, all.p50(), p));
        }
        if (all.p50() >= LARGE_MEDIAN) {
            return new Verdict(Kind.LARGE, p, fmt("large deltas: median |delta| %.2g, only %.1f%% within %s "
                            + "(continued pre-training?); DARE is expected to degrade above a drop rate of about %.2f",
                    all.p50(), 100 * all.withinSmall(), DeltaStats.SMALL, p));
        }
        return new Verdict(Kind.MODERATE, p, fmt("moderate deltas: median |delta| %.2g, %.1f%% within %s (between SFT "
                        + "and continued pre-training); drop rates up to about %.2f are expected to be safe",
                all.p50(), 100 * all.withinSmall(), DeltaStats.SMALL, p));
    }

    private static String fmt(String f, Object... args) {
        return String.format(Locale.ROOT, f, args);
    }
}
