package io.mergestream.kernel;

/**
 * The task-arithmetic family for one tensor (merge-semantics.md): per element, with b the base and x_j the
 * fine-tunes, all in f32 and in exactly this order (no fused multiply-add, so that every kernel agrees
 * bit for bit):
 * <pre>
 *   d_j   = x_j - b
 *   s_j   = kept_j ? (rescale_j ? d_j / density_j : d_j) : 0
 *   t_j   = w_j * s_j
 *   NONE:      mixed = ((t_0 + t_1) + t_2) ...           divisor = ((w_0 + w_1) + w_2) ...
 *   consensus: e = sum in j order of (WEIGHTED_SUM: t_j | SUM: s_j | COUNT: sign(t_j) as -1/0/+1)
 *              sgn = e >= 0 ? +1 : -1
 *              a_j = (sgn > 0 ? t_j > 0 : t_j < 0)       (an exact zero never agrees)
 *              mixed = sum in j order of (a_j ? t_j : 0); divisor = sum in j order of (a_j ? w_j : 0)
 *   if normalize: mixed = mixed / (|divisor| < 1e-8f ? 1 : divisor)
 *   out   = b + lambda * mixed
 * </pre>
 * then out is rounded once to the output dtype (round to nearest even).
 */
public record TaskArithmeticOp(float[] weights, Sparsifier[] sparsifiers, Consensus consensus,
                               boolean normalize, float lambda) {
    public TaskArithmeticOp {
        if (weights.length != sparsifiers.length) {
            throw new IllegalArgumentException("weights and sparsifiers differ in length");
        }
    }

    public int models() {
        return weights.length;
    }
}
