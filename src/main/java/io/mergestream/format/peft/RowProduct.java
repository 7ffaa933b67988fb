package io.mergestream.format.peft;

/**
 * The inner loop of the LoRA product: {@code acc[x] = Σ_k coef[k] · tile[off + k·stride + x]} for x in [0, w), summed
 * over k in ascending order in f32, the first term a plain product (no fused multiply-add), so that the scalar and
 * the vector implementations give the same bits. One call per output row and column tile: {@code coef} is the row's
 * r coefficients, {@code tile} the r decoded rows of the other factor over the tile's columns.
 */
interface RowProduct {

    void accumulate(float[] coef, int rank, float[] tile, int off, int stride, int w, float[] acc);

    /** The readable reference. */
    RowProduct SCALAR = (coef, rank, tile, off, stride, w, acc) -> {
        float c0 = coef[0];
        for (int x = 0; x < w; x++) acc[x] = c0 * tile[off + x];
        for (int k = 1; k < rank; k++) {
            float c = coef[k];
            int o = off + k * stride;
            for (int x = 0; x < w; x++) acc[x] += c * tile[o + x];
        }
    };

    /** The Vector API implementation when jdk.incubator.vector is in the boot layer, else {@link #SCALAR}. */
    static RowProduct best() {
        return Best.PRODUCT;
    }

    /** Loaded on first use; the vector class is never touched without the module. */
    final class Best {
        static final RowProduct PRODUCT = choose();

        private Best() {}

        private static RowProduct choose() {
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) return SCALAR;
            try {
                return (RowProduct) Class.forName("io.mergestream.format.peft.VectorRowProduct")
                        .getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot load the vector LoRA product", e);
            }
        }
    }
}
