package io.mergestream.method;

import io.mergestream.kernel.TensorView;

/**
 * The tensors one output tensor is computed from, all indexed by the output's flat element index: the base
 * (absent for methods that need none), each fine-tune and the output. A fine-tune may cover fewer elements
 * than the output ({@code modelElements[j]}): an embedding or lm_head with fewer vocabulary rows. Beyond
 * its rows it contributes no delta, which the pieces below express by reading the base in its place.
 */
public record MergeInputs(TensorView base, TensorView[] models, long[] modelElements, TensorView out, long[] shape) {

    /** Inputs of a tensor seen as one flat row (its shape unknown). */
    public MergeInputs(TensorView base, TensorView[] models, long[] modelElements, TensorView out) {
        this(base, models, modelElements, out, new long[] {out.elements()});
    }

    /**
     * Elements per row: the last dimension (a 0-D or 1-D tensor is one row). DELLA ranks |delta| within rows.
     */
    public long rowLength() {
        if (shape.length < 2) return Math.max(1, elements());
        return Math.max(1, shape[shape.length - 1]);
    }

    /** The view of fine-tune j at flat index i: its own where it has rows, else the base (no delta). */
    public TensorView modelAt(int j, long i) {
        return i < modelElements[j] ? models[j] : base;
    }

    /** Work on one piece of a chunk, with the model views valid for that whole piece. */
    @FunctionalInterface
    public interface PieceTask {
        void run(long start, int count, TensorView[] models);
    }

    public long elements() {
        return out.elements();
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
