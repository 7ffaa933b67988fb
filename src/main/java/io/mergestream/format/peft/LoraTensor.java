package io.mergestream.format.peft;

import io.mergestream.format.TensorSource;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Elements;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/**
 * A LoRA-adapted weight {@code W + s·B·A} (PEFT's {@code get_delta_weight}: {@code transpose(B @ A, fan_in_fan_out)
 * * scaling}, peft/tuners/lora/layer.py, Linear and Embedding), computed for the range a reader asks and never for
 * the whole tensor: memory stays flat.
 *
 * <p>With W stored [R, C], element (p, q) is {@code W[p,q] + s · Σ_k L[p,k]·M[k,q]} where, for a plain linear layer
 * (W [out, in]), {@code L = B} [out, r] and {@code M = A} [r, in]; transposed (a Conv1D-style layer with
 * {@code fan_in_fan_out}, or an embedding's {@code lora_embedding_A/B}, W [in, out]), {@code L[p,k] = A[k,p]} and
 * {@code M[k,q] = B[q,k]}. Order, all in f32: the sum over k ascending ({@link RowProduct}), then times s, then added
 * to W, then rounded once to W's dtype. A and B may be F32, BF16 or F16 (decoded exactly).
 *
 * <p>{@link #fill} works in column tiles of {@link #TILE}: it decodes M's r rows over the tile once, then for every
 * row of the range in that tile gathers L's r coefficients and runs the vector inner product. Per-thread scratch:
 * {@code r × TILE + TILE + r} floats for the largest rank r, shared by all LoRA tensors.
 */
final class LoraTensor implements TensorSource {

    static final int TILE = 512;

    private final TensorSource w;
    private final TensorSource a, b;
    private final float s;
    private final int rank;
    private final boolean transposed;
    private final long rows, cols;
    private final TensorInfo info;
    private final RowProduct product;
    /**
     * Per-thread scratch shared by every LoRA tensor (one per tensor would keep threads × targets buffers alive for
     * the whole run: tens of MB of heap for a 7B model's 224 targets), grown to the largest rank met.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[3][0]);

    LoraTensor(TensorSource w, TensorSource a, TensorSource b, float s, boolean transposed, RowProduct product) {
        this.w = w;
        this.a = a;
        this.b = b;
        this.s = s;
        this.rank = (int) a.info().dim(0);
        this.transposed = transposed;
        this.rows = w.info().dim(0);
        this.cols = w.info().dim(1);
        TensorInfo wi = w.info();
        this.info = new TensorInfo(wi.name(), wi.dtype(), wi.shape(), 0, wi.byteSize());
        this.product = product;
    }

    @Override
    public TensorInfo info() {
        return info;
    }

    @Override
    public long bytesRead() {
        return w.bytesRead() + a.bytesRead() + b.bytesRead();
    }

    @Override
    public MemorySegment mapped() {
        return null;
    }

    @Override
    public void fill(long start, int count, MemorySegment dst) {
        float[][] sc = SCRATCH.get();
        if (sc[2].length < rank) {
            sc[0] = new float[rank * TILE];
            sc[1] = new float[TILE];
            sc[2] = new float[rank];
        }
        float[] tile = sc[0], acc = sc[1], coef = sc[2];
        long end = start + count;
        long firstRow = start / cols, lastRow = (end - 1) / cols;
        // the columns any row of the range needs: all of them once the range spans a row boundary
        long colFrom = firstRow == lastRow ? start - firstRow * cols : 0;
        long colTo = firstRow == lastRow ? end - firstRow * cols : cols;
        MemorySegment wData = w.mapped();
        DType wType = w.info().dtype();
        for (long t0 = colFrom; t0 < colTo; t0 += TILE) {
            int tw = (int) Math.min(TILE, colTo - t0);
            loadTile(t0, tw, tile);
            for (long p = firstRow; p <= lastRow; p++) {
                long c0 = Math.max(t0, p == firstRow ? start - p * cols : 0);
                long c1 = Math.min(t0 + tw, p == lastRow ? end - p * cols : cols);
                if (c0 >= c1) continue;
                loadCoefficients(p, coef);
                int off = (int) (c0 - t0);
                int n = (int) (c1 - c0);
                // the product over the row's part of the tile, then W + s * product, rounded once
                product.accumulate(coef, rank, tile, off, tw, n, acc);
                long flat = p * cols + c0;
                for (int x = 0; x < n; x++) {
                    float v = Elements.decode(wData, wType, flat + x) + s * acc[x];
                    Elements.encode(dst, wType, flat + x - start, v);
                }
            }
        }
    }

    /** tile[k*tw + x] = M[k, t0 + x] for k < r, x < tw. */
    private void loadTile(long t0, int tw, float[] tile) {
        if (!transposed) { // M = A [r, C]
            MemorySegment m = a.mapped();
            DType d = a.info().dtype();
            for (int k = 0; k < rank; k++) {
                long from = k * cols + t0;
                for (int x = 0; x < tw; x++) tile[k * tw + x] = Elements.decode(m, d, from + x);
            }
        } else { // M[k, q] = B[q, k], B [C, r]
            MemorySegment m = b.mapped();
            DType d = b.info().dtype();
            for (int x = 0; x < tw; x++) {
                long from = (t0 + x) * rank;
                for (int k = 0; k < rank; k++) tile[k * tw + x] = Elements.decode(m, d, from + k);
            }
        }
    }

    /** coef[k] = L[p, k]. */
    private void loadCoefficients(long p, float[] coef) {
        if (!transposed) { // L = B [R, r]
            MemorySegment m = b.mapped();
            DType d = b.info().dtype();
            for (int k = 0; k < rank; k++) coef[k] = Elements.decode(m, d, p * rank + k);
        } else { // L[p, k] = A[k, p], A [r, R]
            MemorySegment m = a.mapped();
            DType d = a.info().dtype();
            for (int k = 0; k < rank; k++) coef[k] = Elements.decode(m, d, k * rows + p);
        }
    }

    @Override
    public void doneReading(boolean evict) {
        w.doneReading(evict);
        a.doneReading(evict);
        b.doneReading(evict);
    }
}
