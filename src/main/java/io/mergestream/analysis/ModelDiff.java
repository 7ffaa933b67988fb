package io.mergestream.analysis;

import io.mergestream.tensor.Elements;
import io.mergestream.parallel.BlockReduction;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.engine.MappedInputFault;
import io.mergestream.format.StoredTensor;
import io.mergestream.kernel.TensorView;
import io.mergestream.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code mergestream diff A B}: compares two checkpoints tensor by tensor in one streamed pass. Per tensor
 * present in both with the same shape: max and mean |a - b| (f32 subtraction of the decoded values),
 * cosine(a, b), the number of bit-identical elements (same stored bits when the dtypes agree, same f32 bits
 * after decoding when they differ) and the number outside the tolerance. An element matches when it is
 * bit-identical or, with a positive tolerance T, when {@code |a - b| <= T} (NaN never does). The models
 * match when every tensor is in both, with the same shape and dtype, and every element matches.
 * Non-float tensors of the same dtype are compared element by element on their bytes (bit-identical or
 * not; they have no max, mean or cosine).
 */
public final class ModelDiff {

    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    private static final int SUMS = 4; // sum |d|, sum a*b, sum a^2, sum b^2

    private ModelDiff() {}

    /**
     * One tensor in both models. {@code compared} is false when the dtypes cannot be compared (a float and
     * a non-float, or two different non-float types); then the counts are 0. Float figures are NaN for
     * non-float tensors.
     */
    public record TensorDiff(String name, DType dtypeA, DType dtypeB, long[] shape, long elements, boolean compared,
                             long identical, long overTolerance, double maxAbs, double meanAbs, double cosine) {
        public boolean matches() {
            return compared && dtypeA == dtypeB && overTolerance == 0;
        }
    }

    public record ShapeMismatch(String name, long[] shapeA, long[] shapeB) {}

    public record Report(String a, String b, double tolerance, List<TensorDiff> tensors, List<String> onlyInA,
                         List<String> onlyInB, List<ShapeMismatch> shapeMismatches) {
        public boolean matches() {
            return onlyInA.isEmpty() && onlyInB.isEmpty() && shapeMismatches.isEmpty()
                    && tensors.stream().allMatch(TensorDiff::matches);
        }

        public long differingTensors() {
            return tensors.stream().filter(t -> !t.matches()).count();
        }
    }

    private static final class State {
        long identical, over;
        int maxBits;
    }

    public static Report compute(Checkpoint a, Checkpoint b, double tolerance, ChunkRunner runner, int blockElements,
                                 Progress progress) {
        // a checkpoint truncated while mapped faults on its pages: one line naming the file (exit 1)
        return MappedInputFault.guard(List.of(a, b), () -> pass(a, b, tolerance, runner, blockElements, progress));
    }

    private static Report pass(Checkpoint a, Checkpoint b, double tolerance, ChunkRunner runner, int blockElements,
                               Progress progress) {
        List<TensorDiff> tensors = new ArrayList<>();
        List<String> onlyA = new ArrayList<>();
        List<String> onlyB = new ArrayList<>();
        List<ShapeMismatch> shapes = new ArrayList<>();
        for (StoredTensor ta : a.tensors()) {
            StoredTensor tb = b.tensor(ta.name());
            if (tb == null) {
                onlyA.add(ta.name());
                continue;
            }
            if (!ta.info().sameShape(tb.info().shape())) {
                shapes.add(new ShapeMismatch(ta.name(), ta.info().shape(), tb.info().shape()));
                continue;
            }
            progress.startTensor(ta.name());
            tensors.add(tensor(ta, tb, tolerance, runner, blockElements));
            progress.add(ta.info().byteSize() + tb.info().byteSize());
            progress.finishTensor();
        }
        for (StoredTensor tb : b.tensors()) {
            if (!a.contains(tb.name())) onlyB.add(tb.name());
        }
        return new Report(a.location().toString(), b.location().toString(), tolerance, List.copyOf(tensors),
                List.copyOf(onlyA), List.copyOf(onlyB), List.copyOf(shapes));
    }

    private static TensorDiff tensor(StoredTensor ta, StoredTensor tb, double tolerance, ChunkRunner runner,
                                     int blockElements) {
        DType da = ta.info().dtype();
        DType db = tb.info().dtype();
        long n = ta.info().elements();
        long[] shape = ta.info().shape();
        if (!da.isMergeable() || !db.isMergeable()) {
            if (da != db) return new TensorDiff(ta.name(), da, db, shape, n, false, 0, 0, Double.NaN, Double.NaN, Double.NaN);
            long identical = sum(runner.reduce(n, () -> new long[1], (c, s, k) -> c[0] += sameBytes(ta.data(), tb.data(),
                    da.byteSize(), s, k)));
            return new TensorDiff(ta.name(), da, db, shape, n, true, identical, n - identical, Double.NaN, Double.NaN,
                    Double.NaN);
        }
        TensorView va = new TensorView(ta.data(), da);
        TensorView vb = new TensorView(tb.data(), db);
        boolean sameType = da == db;
        BlockReduction.Result<State> r = BlockReduction.run(runner, n, blockElements, SUMS, State::new,
                (st, start, count, sums) -> {
                    double sAbs = 0, sAB = 0, sA2 = 0, sB2 = 0;
                    long identical = 0, over = 0;
                    int maxBits = st.maxBits;
                    for (long i = start, end = start + count; i < end; i++) {
                        float x = va.get(i);
                        float y = vb.get(i);
                        boolean same = sameType ? rawBits(va, i) == rawBits(vb, i)
                                : Float.floatToRawIntBits(x) == Float.floatToRawIntBits(y);
                        int bits = Float.floatToRawIntBits(x - y) & 0x7FFFFFFF;
                        float ad = Float.intBitsToFloat(bits);
                        if (same) {
                            identical++;
                        } else if (!(tolerance > 0 && ad <= tolerance)) {
                            over++;
                        }
                        if (bits > maxBits) maxBits = bits;
                        sAbs += ad;
                        sAB += (double) x * y;
                        sA2 += (double) x * x;
                        sB2 += (double) y * y;
                    }
                    st.identical += identical;
                    st.over += over;
                    st.maxBits = maxBits;
                    sums[0] = sAbs;
                    sums[1] = sAB;
                    sums[2] = sA2;
                    sums[3] = sB2;
                });
        long identical = 0, over = 0;
        int maxBits = 0;
        for (State s : r.states()) {
            identical += s.identical;
            over += s.over;
            maxBits = Math.max(maxBits, s.maxBits);
        }
        double[] t = r.totals();
        double max = n == 0 ? Double.NaN : Float.intBitsToFloat(maxBits);
        return new TensorDiff(ta.name(), da, db, shape, n, true, identical, over, max, t[0] / n,
                t[1] / Math.sqrt(t[2] * t[3]));
    }

    private static int rawBits(TensorView v, long i) {
        return v.dtype() == DType.F32 ? v.data().get(Elements.F32_BITS, i * 4)
                : v.data().get(Elements.I16, i * 2);
    }

    private static long sameBytes(MemorySegment a, MemorySegment b, int size, long start, int count) {
        long same = 0;
        for (long i = start, end = start + count; i < end; i++) {
            long off = i * size;
            boolean eq = true;
            for (int k = 0; k < size && eq; k++) eq = a.get(BYTE, off + k) == b.get(BYTE, off + k);
            if (eq) same++;
        }
        return same;
    }

    private static long sum(List<long[]> parts) {
        return parts.stream().mapToLong(p -> p[0]).sum();
    }

    /** For tests and printing: the shape as [a, b]. */
    static String shape(long[] s) {
        return Arrays.toString(s);
    }
}
