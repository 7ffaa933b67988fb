package io.mergestream.kernel;

import java.util.Arrays;
import java.util.Comparator;

/**
 * A plainly written reference of merge-semantics.md on decoded float arrays, one model and one step at a
 * time with whole-array temporaries, independent of the kernels' code.
 */
public final class ReferenceMerge {
    private ReferenceMerge() {}

    /** What sparsifier j keeps: a DARE draw, a fixed selected set (magnitude), or everything. */
    public record Keep(String kind, long threshold, int k0, int k1, boolean[] selected, float density, boolean rescale) {
        public static Keep all() {
            return new Keep("none", 0, 0, 0, null, 1f, false);
        }

        /** Whether element {@code index} is kept (for references that rescale on top of the selection). */
        public boolean keptAt(long index) {
            return kept(index);
        }

        boolean kept(long index) {
            return switch (kind) {
                case "none" -> true;
                case "random" -> Integer.toUnsignedLong(DareMask.u(index, k0, k1)) < threshold;
                default -> selected[(int) index];
            };
        }
    }

    /**
     * The k = floor(density * n) largest |delta| of the whole tensor, equal magnitudes ordered by flat index
     * (merge-semantics.md), selected by sorting.
     */
    public static boolean[] magnitudeSelection(float[] delta, double density) {
        int n = delta.length;
        int k = (int) Math.floor(density * n);
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -Math.abs(delta[i])).thenComparingInt(i -> i));
        boolean[] selected = new boolean[n];
        for (int r = 0; r < k; r++) selected[order[r]] = true;
        return selected;
    }

    /** The kernel's description of a selected set: threshold bits and tie cutoff. */
    static Sparsifier.Magnitude asSparsifier(float[] delta, boolean[] selected, float density, boolean rescale) {
        int threshold = Integer.MAX_VALUE;
        long tieCutoff = 0;
        for (int i = 0; i < delta.length; i++) {
            if (selected[i]) threshold = Math.min(threshold, Float.floatToRawIntBits(Math.abs(delta[i])));
        }
        for (int i = 0; i < delta.length; i++) {
            if (selected[i] && Float.floatToRawIntBits(Math.abs(delta[i])) == threshold) tieCutoff = i + 1;
        }
        return new Sparsifier.Magnitude(threshold, tieCutoff, density, rescale);
    }

    /** out = b + lambda * mixed, in f32, per merge-semantics.md "The task-arithmetic family". */
    public static float[] taskArithmetic(float[] base, float[][] models, float[] weights, Keep[] keeps,
                                  Consensus consensus, boolean normalize, float lambda) {
        int n = base.length, m = models.length;
        float[][] sparse = new float[m][n];
        float[][] weighted = new float[m][n];
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < n; i++) {
                float delta = models[j][i] - base[i];
                float kept = keeps[j].rescale() ? delta / keeps[j].density() : delta;
                sparse[j][i] = keeps[j].kept(i) ? kept : 0f;
                weighted[j][i] = weights[j] * sparse[j][i];
            }
        }
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float mixed;
            float divisor;
            if (consensus == Consensus.NONE) {
                mixed = weighted[0][i];
                divisor = weights[0];
                for (int j = 1; j < m; j++) {
                    mixed += weighted[j][i];
                    divisor += weights[j];
                }
            } else {
                float vote = 0;
                for (int j = 0; j < m; j++) {
                    vote += switch (consensus) {
                        case WEIGHTED_SUM -> weighted[j][i];
                        case SUM -> sparse[j][i];
                        default -> Math.signum(weighted[j][i]);
                    };
                }
                float sign = vote >= 0 ? 1f : -1f;
                mixed = 0;
                divisor = 0;
                for (int j = 0; j < m; j++) {
                    if (Math.signum(weighted[j][i]) == sign) {
                        mixed += weighted[j][i];
                        divisor += weights[j];
                    }
                }
            }
            if (normalize) mixed /= Math.abs(divisor) < 1e-8f ? 1f : divisor;
            out[i] = base[i] + lambda * mixed;
        }
        return out;
    }

    /** mergekit's linear: sum of w_j x_j, divided by sum of w_j if normalize. */
    public static float[] linear(float[][] models, float[] weights, boolean normalize) {
        int n = models[0].length;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float acc = weights[0] * models[0][i];
            float divisor = weights[0];
            for (int j = 1; j < models.length; j++) {
                acc += weights[j] * models[j][i];
                divisor += weights[j];
            }
            out[i] = normalize ? acc / divisor : acc;
        }
        return out;
    }
}
