package io.mergestream.format;

import io.mergestream.tensor.DType;
import io.mergestream.tensor.Elements;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A float tensor the kernels cannot read as stored, decoded to f32 on request (a computed {@link TensorSource}):
 * <ul>
 *   <li>F64: each element rounded once to the nearest f32 (merges compute in f32; values beyond f32's range become
 *       infinities, below it zeros or subnormals, and only 24 of the 53 significand bits survive).</li>
 *   <li>F8_E4M3 / F8_E5M2 with their scales: {@code value = fp8 × scale}, the product rounded once to f32 (exact
 *       for any f32 scale whose significand has at most 20 bits). The scale is either one number for the tensor
 *       ({@code weight_scale} of shape [] or [1]), one per row ([out] or [out, 1]), or DeepSeek-V3's blocks:
 *       {@code weight_scale_inv} of shape [ceil(out/128), ceil(in/128)], element (r, c) scaled by
 *       {@code scale_inv[r / 128][c / 128]}.</li>
 * </ul>
 */
public final class DecodedTensor implements TensorSource {

    /** DeepSeek-V3's quantisation block: 128 × 128 weights share one scale. */
    public static final int BLOCK = 128;

    private static final float[] E4M3 = table(4, 3, false);
    private static final float[] E5M2 = table(5, 2, true);

    private final TensorSource stored;
    private final TensorInfo info;
    private final TensorSource scale;
    private final long rows, cols;
    private final ScaleLayout layout;

    private enum ScaleLayout { NONE, TENSOR, ROW, BLOCKS }

    private DecodedTensor(TensorSource stored, TensorSource scale, ScaleLayout layout) {
        this.stored = stored;
        this.scale = scale;
        this.layout = layout;
        TensorInfo s = stored.info();
        this.info = new TensorInfo(s.name(), DType.F32, s.shape(), 0, s.elements() * 4);
        this.rows = s.rank() == 0 ? 1 : s.dim(0);
        this.cols = s.rank() == 0 ? 1 : s.elements() / Math.max(1, rows);
    }

    /** An F64 tensor as f32. */
    public static DecodedTensor f64(TensorSource stored) {
        if (stored.info().dtype() != DType.F64 || stored.mapped() == null) {
            throw new IllegalArgumentException(stored.name() + " is not a stored F64 tensor");
        }
        return new DecodedTensor(stored, null, ScaleLayout.NONE);
    }

    /**
     * An FP8 tensor with its scale tensor (F32, BF16 or F16); {@code blocks} for DeepSeek-V3's {@code weight_scale_inv}.
     * Returns null with the reason in {@code why[0]} when the scale's shape fits none of the layouts.
     */
    public static DecodedTensor fp8(TensorSource stored, TensorSource scale, boolean blocks, String[] why) {
        TensorInfo w = stored.info();
        TensorInfo s = scale.info();
        if (!s.dtype().isMergeable() || scale.mapped() == null) {
            why[0] = "its scale '" + s.name() + "' is " + s.dtype() + " (F32, BF16 or F16 expected)";
            return null;
        }
        long out = w.rank() == 0 ? 1 : w.dim(0);
        long in = w.rank() == 0 ? 1 : w.elements() / Math.max(1, out);
        ScaleLayout layout;
        if (s.elements() == 1) {
            layout = ScaleLayout.TENSOR;
        } else if (blocks && w.rank() == 2 && s.rank() == 2 && s.dim(0) == ceil(out) && s.dim(1) == ceil(in)) {
            layout = ScaleLayout.BLOCKS;
        } else if (!blocks && s.elements() == out && (s.rank() == 1 || (s.rank() == 2 && s.dim(1) == 1))) {
            layout = ScaleLayout.ROW;
        } else {
            why[0] = "its scale '" + s.name() + "' has shape " + s.shapeString() + ", which fits neither one scale, one per row"
                    + " nor " + BLOCK + "x" + BLOCK + " blocks ([" + ceil(out) + ", " + ceil(in) + "]) of the weight's "
                    + w.shapeString();
            return null;
        }
        return new DecodedTensor(stored, scale, layout);
    }

    private static long ceil(long n) {
        return (n + BLOCK - 1) / BLOCK;
    }

    @Override
    public TensorInfo info() {
        return info;
    }

    @Override
    public long bytesRead() {
        return stored.bytesRead() + (scale == null ? 0 : scale.bytesRead());
    }

    @Override
    public MemorySegment mapped() {
        return null;
    }

    @Override
    public void fill(long start, int count, MemorySegment dst) {
        MemorySegment src = stored.mapped();
        DType d = stored.info().dtype();
        if (d == DType.F64) {
            for (int o = 0; o < count; o++) dst.set(Elements.F32, o * 4L, (float) src.get(Elements.F64, (start + o) * 8));
            return;
        }
        float[] table = d == DType.F8_E4M3 ? E4M3 : E5M2;
        MemorySegment sc = scale.mapped();
        DType sd = scale.info().dtype();
        float tensorScale = layout == ScaleLayout.TENSOR ? Elements.decode(sc, sd, 0) : 0f;
        long scaleCols = ceil(cols);
        for (int o = 0; o < count; o++) {
            long i = start + o;
            float s = switch (layout) {
                case TENSOR -> tensorScale;
                case ROW -> Elements.decode(sc, sd, i / cols);
                case BLOCKS -> Elements.decode(sc, sd, (i / cols / BLOCK) * scaleCols + (i % cols) / BLOCK);
                case NONE -> 1f;
            };
            dst.set(Elements.F32, o * 4L, table[src.get(ValueLayout.JAVA_BYTE, i) & 0xFF] * s);
        }
    }

    @Override
    public void prefetch() {
        stored.prefetch();
        if (scale != null) scale.prefetch();
    }

    @Override
    public void doneReading(boolean evict) {
        stored.doneReading(evict);
        if (scale != null) scale.doneReading(evict);
    }

    /**
     * The 256 values of an 8-bit float with {@code e} exponent and {@code m} mantissa bits (bias 2^(e-1) - 1).
     * E4M3 is the "fn" variant (OCP FP8, what safetensors' F8_E4M3 holds): no infinities, only S.1111.111 is NaN,
     * largest 448. E5M2 is IEEE-like: exponent all ones is infinity (mantissa 0) or NaN.
     */
    static float[] table(int e, int m, boolean ieee) {
        float[] t = new float[256];
        int bias = (1 << (e - 1)) - 1;
        int maxExp = (1 << e) - 1;
        for (int b = 0; b < 256; b++) {
            int sign = b >> 7;
            int exp = (b >> m) & maxExp;
            int man = b & ((1 << m) - 1);
            float v;
            if (ieee && exp == maxExp) {
                v = man == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
            } else if (!ieee && exp == maxExp && man == (1 << m) - 1) {
                v = Float.NaN;
            } else if (exp == 0) {
                v = man * (float) Math.pow(2, 1 - bias - m); // subnormal
            } else {
                v = (1 + man / (float) (1 << m)) * (float) Math.pow(2, exp - bias);
            }
            t[b] = sign == 1 ? -v : v;
        }
        return t;
    }
}
