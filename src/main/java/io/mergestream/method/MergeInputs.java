package io.mergestream.method;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.format.TensorSource;
import io.mergestream.kernel.TensorView;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The tensors one output tensor is computed from, all indexed by the output's flat element index: the base
 * (absent for methods that need none) and each fine-tune. The output is not here: each chunk's map step
 * gets its own output window ({@link ChunkOp}). A fine-tune may cover fewer elements
 * than the output ({@code modelElements[j]}): an embedding or lm_head with fewer vocabulary rows. Beyond
 * its rows it contributes no delta, which the pieces below express by reading the base in its place.
 * {@code shape} is the output's shape (for methods that work per row or per column).
 *
 * <p>Two ways to read the inputs, whatever their {@link TensorSource}:
 * <ul>
 *   <li>{@link #forEachPiece} / {@link #windows}: views valid for one range only. A mapped input is its mapping; a
 *       computed one (a LoRA product, a remapped vocabulary, a decoded F64/FP8 tensor) is filled for that range into
 *       a per-thread buffer ({@link ChunkBuffers}). Memory stays flat: this is how the methods whose every pass is
 *       chunk-local read (see {@link MergeMethod#streamsInputs}).</li>
 *   <li>{@link #base()}, {@link #models()}, {@link #modelAt}: whole tensors, for reduction passes that read any index
 *       (top-k histograms, norms, per-row ranks, per-column slerp). A computed input is materialised once, chunk by
 *       chunk in parallel on the runner, into an off-heap scratch segment freed by {@link #close()} when the tensor is
 *       written: memory is one tensor per computed input (in its own dtype), never the model.</li>
 * </ul>
 * Which one is chosen once, when the inputs are made ({@code whole}), so that no materialisation ever starts inside a
 * chunk task.
 */
public final class MergeInputs implements AutoCloseable {

    private final TensorSource baseSource;
    private final TensorSource[] modelSources;
    private final long[] modelElements;
    private final long[] shape;
    private final ChunkBuffers buffers;
    private final boolean whole;
    private Arena scratch;
    private TensorView base;
    private TensorView[] models;

    /**
     * @param base    the base's source, or null
     * @param models  each fine-tune's source, in fine-tune order
     * @param shape   the output's shape
     * @param buffers the run's per-thread buffers for computed inputs
     * @param runner  fills materialised inputs in parallel (only with {@code whole})
     * @param whole   whether the method reads whole tensors: computed inputs are materialised now
     */
    public MergeInputs(TensorSource base, TensorSource[] models, long[] shape, ChunkBuffers buffers,
                       ChunkRunner runner, boolean whole) {
        this.baseSource = base;
        this.modelSources = models.clone();
        this.shape = shape.clone();
        this.buffers = buffers;
        this.whole = whole;
        long n = elements();
        this.modelElements = new long[models.length];
        for (int j = 0; j < models.length; j++) modelElements[j] = Math.min(models[j].info().elements(), n);
        if (whole) {
            this.base = base == null ? null : materialise(base, n, runner);
            this.models = new TensorView[models.length];
            for (int j = 0; j < models.length; j++) this.models[j] = materialise(models[j], n, runner);
        }
    }

    /** The source's first {@code n} elements (a model with more vocabulary rows is cut) as one view. */
    private TensorView materialise(TensorSource s, long n, ChunkRunner runner) {
        int size = s.info().dtype().byteSize();
        long valid = Math.min(s.info().elements(), n);
        MemorySegment mapped = s.mapped();
        if (mapped != null) return new TensorView(mapped.asSlice(0, Math.min(mapped.byteSize(), valid * size)), s.info().dtype());
        if (scratch == null) scratch = Arena.ofShared();
        MemorySegment seg = scratch.allocate(valid * size, 64);
        runner.forEachChunk(valid, (start, count) -> s.fill(start, count, seg.asSlice(start * size, (long) count * size)));
        return new TensorView(seg, s.info().dtype());
    }

    /** The whole base, or null when the method has none. */
    public TensorView base() {
        requireWhole();
        return base;
    }

    /** Every fine-tune, whole. */
    public TensorView[] models() {
        requireWhole();
        return models;
    }

    public long[] modelElements() {
        return modelElements;
    }

    public long[] shape() {
        return shape.clone();
    }

    private void requireWhole() {
        if (!whole) {
            throw new IllegalStateException("this method streams its inputs (streamsInputs) but asked for whole tensors");
        }
    }

    /** The view of fine-tune j at flat index i: its own where it has rows, else the base (no delta). */
    public TensorView modelAt(int j, long i) {
        return i < modelElements[j] ? models()[j] : base();
    }

    /** Work on one piece of a chunk, with the base and model views valid for that whole piece. */
    @FunctionalInterface
    public interface PieceTask {
        void run(long start, int count, TensorView base, TensorView[] models);
    }

    /** The output tensor's element count. */
    public long elements() {
        return TensorInfo.elementCount(shape);
    }

    /** The length of the last dimension: a row (1 for a scalar). DELLA ranks |delta| within rows. */
    public long rowLength() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Fine-tune j's source's {@link TensorSource#deltaL1()}: NaN unless it is a kept delta (a pack). */
    public double deltaL1(int j) {
        return modelSources[j].deltaL1();
    }

    public int modelCount() {
        return modelSources.length;
    }

    /** True when some fine-tune covers fewer elements than the output. */
    public boolean hasShortModels() {
        for (long n : modelElements) if (n < elements()) return true;
        return false;
    }

    /** The base (null without one) valid over {@code [start, start + count)}: slot 0 of the chunk buffers. */
    public TensorView baseWindow(long start, int count) {
        if (baseSource == null) return null;
        return whole ? base : buffers.window(baseSource, 0, start, count);
    }

    /** Every fine-tune valid over {@code [start, start + count)}, which they must all cover. */
    public TensorView[] windows(long start, int count) {
        TensorView[] v = new TensorView[modelSources.length];
        for (int j = 0; j < v.length; j++) v[j] = whole ? models[j] : buffers.window(modelSources[j], j + 1, start, count);
        return v;
    }

    /**
     * Splits {@code [start, start + count)} where a fine-tune's rows end and runs {@code task} on each piece with
     * views valid for it, substituting the base for fine-tunes that have no rows there.
     */
    public void forEachPiece(long start, int count, PieceTask task) {
        if (!hasShortModels()) {
            task.run(start, count, baseWindow(start, count), windows(start, count));
            return;
        }
        long end = start + count;
        long pos = start;
        while (pos < end) {
            long pieceEnd = end;
            for (long n : modelElements) {
                if (n > pos && n < pieceEnd) pieceEnd = n;
            }
            int c = (int) (pieceEnd - pos);
            TensorView b = baseWindow(pos, c);
            TensorView[] views = new TensorView[modelSources.length];
            for (int j = 0; j < views.length; j++) {
                views[j] = pos >= modelElements[j] ? b
                        : whole ? models[j] : buffers.window(modelSources[j], j + 1, pos, c);
            }
            task.run(pos, c, b, views);
            pos = pieceEnd;
        }
    }

    /**
     * Off-heap memory for a method's per-element results that later passes over this tensor read (SCE's variances),
     * 64-byte aligned, freed with the materialised inputs by {@link #close()}: off the heap, so that a tensor's worth
     * of results per tensor is not garbage for the 128 MB heap to collect.
     */
    public MemorySegment scratch(long bytes) {
        if (scratch == null) scratch = Arena.ofShared();
        return scratch.allocate(bytes, 64);
    }

    /** Frees the materialised inputs (the tensor has been written). */
    @Override
    public void close() {
        if (scratch != null) scratch.close();
        scratch = null;
    }
}
