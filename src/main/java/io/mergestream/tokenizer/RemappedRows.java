package io.mergestream.tokenizer;

import io.mergestream.format.TensorSource;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Elements;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

/**
 * One participant's vocabulary tensor rebuilt onto the output vocabulary, as a computed {@link TensorSource}: row
 * {@code r} of the output is the participant's own row of that token, or another participant's, or the f32 mean
 * of several participants' rows (summed in participant order, rounded once to this participant's dtype), or the
 * mean of all this participant's rows (padding: summed in double in row order, rounded once to f32, computed once),
 * or zeros; see {@link VocabularyMapping}. {@link #fill} builds only the rows (and columns) of the asked range, so
 * a streaming method never holds more than a chunk of it.
 */
final class RemappedRows implements TensorSource {

    private final TensorInfo info;
    private final List<TensorSource> all;
    private final TensorSource own;
    private final List<VocabularyMapping.RowSource> sources;
    private final long rowLength;
    private volatile float[] padding;

    RemappedRows(String name, int rows, List<TensorSource> all, int participant, List<VocabularyMapping.RowSource> sources) {
        this.all = List.copyOf(all);
        this.own = all.get(participant);
        this.sources = sources;
        long[] shape = own.info().shape();
        this.rowLength = own.info().elements() / Math.max(1, shape[0]);
        shape[0] = rows;
        DType dtype = own.info().dtype();
        this.info = new TensorInfo(name, dtype, shape, 0, TensorInfo.elementCount(shape) * dtype.byteSize());
    }

    @Override
    public TensorInfo info() {
        return info;
    }

    @Override
    public long bytesRead() {
        return own.bytesRead();
    }

    @Override
    public MemorySegment mapped() {
        return null;
    }

    @Override
    public void fill(long start, int count, MemorySegment dst) {
        DType dtype = info.dtype();
        int size = dtype.byteSize();
        long end = start + count;
        float[] acc = new float[(int) Math.min(rowLength, count)];
        for (long r = start / rowLength; r * rowLength < end; r++) {
            long c0 = Math.max(start, r * rowLength) - r * rowLength;
            long c1 = Math.min(end, (r + 1) * rowLength) - r * rowLength;
            int n = (int) (c1 - c0);
            long at = r * rowLength + c0 - start; // element offset in dst
            VocabularyMapping.RowSource s = sources.get((int) r);
            if (s.isZeros()) {
                dst.asSlice(at * size, (long) n * size).fill((byte) 0);
                continue;
            }
            if (s.padding()) {
                float[] p = padding();
                for (int c = 0; c < n; c++) Elements.encode(dst, dtype, at + c, p[(int) c0 + c]);
                continue;
            }
            if (s.models().length == 1 && all.get(s.models()[0]).info().dtype() == dtype) {
                all.get(s.models()[0]).fill(s.rows()[0] * rowLength + c0, n, dst.asSlice(at * size, (long) n * size));
                continue;
            }
            Arrays.fill(acc, 0, n, 0f);
            for (int i = 0; i < s.models().length; i++) {
                add(all.get(s.models()[i]), s.rows()[i] * rowLength + c0, n, acc);
            }
            float k = s.models().length;
            for (int c = 0; c < n; c++) Elements.encode(dst, dtype, at + c, acc[c] / k);
        }
    }

    /** acc[c] += element {@code from + c} of {@code src} (f32), for c in [0, n). */
    private static void add(TensorSource src, long from, int n, float[] acc) {
        DType d = src.info().dtype();
        MemorySegment m = src.mapped();
        long base = from;
        if (m == null) {
            m = MemorySegment.ofArray(new byte[n * d.byteSize()]);
            src.fill(from, n, m);
            base = 0;
        }
        for (int c = 0; c < n; c++) acc[c] += Elements.decode(m, d, base + c);
    }

    /** The mean of all the participant's rows, per column (double sums in row order, rounded once to f32). */
    private float[] padding() {
        float[] p = padding;
        if (p != null) return p;
        synchronized (this) {
            if (padding != null) return padding;
            long rows = own.info().dim(0);
            double[] sum = new double[(int) rowLength];
            float[] row = new float[(int) rowLength];
            for (long r = 0; r < rows; r++) {
                Arrays.fill(row, 0f);
                add(own, r * rowLength, (int) rowLength, row);
                for (int c = 0; c < rowLength; c++) sum[c] += row[c];
            }
            float[] mean = new float[(int) rowLength];
            for (int c = 0; c < rowLength; c++) mean[c] = rows == 0 ? 0f : (float) (sum[c] / rows);
            padding = mean;
            return mean;
        }
    }

    @Override
    public void doneReading(boolean evict) {
        for (TensorSource s : all) s.doneReading(evict);
    }
}
