package io.mergestream.method;

import io.mergestream.kernel.TensorView;

/**
 * The tensors one output tensor is computed from, all indexed by the output's flat element index: the base
 * (absent for methods that need none) and each fine-tune. The output is not here: each chunk's map step
 * gets its own output window ({@link ChunkOp}). A fine-tune may cover fewer elements
 * than the output ({@code modelElements[j]}): an embedding or lm_head with fewer vocabulary rows. Beyond
 * its rows it contributes no delta, which the pieces below express by reading the base in its place.
 * {@code shape} is the output's shape (for methods that work per row or per column).
 */
public record MergeInputs(TensorView base, TensorView[] models, long[] modelElements, long[] shape) {

    /** The view of fine-tune j at flat index i: its own where it has rows, else the base (no delta). */
    public TensorView modelAt(int j, long i) {
        return i < modelElements[j] ? models[j] : base;
    }

    /** Work on one piece of a chunk, with the model views valid for that whole piece. */
    @FunctionalInterface
    public interface PieceTask {
        void run(long start, int count, TensorView[] models);
    }

    /** The output tensor's element count. */
    public long elements() {
        return io.mergestream.tensor.TensorInfo.elementCount(shape);
    }

    /** The length of the last dimension: a row (1 for a scalar). DELLA ranks |delta| within rows. */
    public long rowLength() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    public int modelCount() {
        return models.length;
    }

    /** True when some fine-tune covers fewer elements than the output. */
    public boolean hasShortModels() {
        for (long n : modelElements) if (n < elements()) return true;
        return false;
    }

    /**
     * Splits {@code [start, start + count)} where a fine-tune's rows end and runs {@code task} on each piece,
     * substituting the base for fine-tunes that have no rows there.
     */
    public void forEachPiece(long start, int count, PieceTask task) {
        if (!hasShortModels()) {
            task.run(start, count, models);
            return;
        }
        long end = start + count;
        long pos = start;
        while (pos < end) {
            long pieceEnd = end;
            for (long n : modelElements) {
                if (n > pos && n < pieceEnd) pieceEnd = n;
            }
            TensorView[] views = new TensorView[models.length];
            for (int j = 0; j < models.length; j++) views[j] = pos < modelElements[j] ? models[j] : base;
            task.run(pos, (int) (pieceEnd - pos), views);
            pos = pieceEnd;
        }
    }
}
