package io.mergestream.format.peft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mergestream.TestModels;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LoraTensor} against a scalar reference written here from the definition (f32: the sum over k ascending, the
 * first term a product, then times s, plus W, rounded once), over ranges of odd sizes that start and end inside rows
 * and column tiles; and the vector inner product against the scalar one, bit for bit.
 */
@Tag("fallback") // also run without jdk.incubator.vector: RowProduct.best() is then the scalar product
class LoraTensorTest {

    @TempDir
    Path dir;

    /** W [rows, cols] and A, B as PEFT stores them (A [r, in], B [out, r]); transposed: W is [in, out]. */
    private static float[] reference(float[] w, float[] a, float[] b, int rows, int cols, int r, float s, boolean t) {
        float[] out = new float[rows * cols];
        for (int p = 0; p < rows; p++) {
            for (int q = 0; q < cols; q++) {
                // L[p,k] M[k,q]: B[p,k] A[k,q], or transposed A[k,p] B[q,k]
                float acc = 0;
                for (int k = 0; k < r; k++) {
                    float l = t ? a[k * rows + p] : b[p * r + k];
                    float m = t ? b[q * r + k] : a[k * cols + q];
                    acc = k == 0 ? l * m : acc + l * m;
                }
                out[p * cols + q] = w[p * cols + q] + s * acc;
            }
        }
        return out;
    }

    private static float[] random(Random rnd, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * scale);
        return v;
    }

    private void check(DType wType, DType abType, boolean transposed, RowProduct product) {
        int rows = 37, cols = 1030, r = 5; // cols spans three column tiles of 512
        Random rnd = new Random(rows * 31L + (transposed ? 1 : 0) + wType.ordinal());
        float[] w = random(rnd, rows * cols, 0.05f);
        int in = transposed ? rows : cols, out = transposed ? cols : rows;
        float[] a = random(rnd, r * in, 0.1f);
        float[] b = random(rnd, out * r, 0.1f);
        Path d = TestModels.write(dir.resolve(wType + "-" + abType + "-" + transposed + product.getClass().getSimpleName()),
                wType, new TestModels.Model().put("w", new long[] {rows, cols}, w));
        Path ab = TestModels.write(dir.resolve("ab-" + wType + "-" + abType + "-" + transposed + product.getClass().getSimpleName()),
                abType, new TestModels.Model().put("a", new long[] {r, in}, a).put("b", new long[] {out, r}, b));
        float s = 1.75f;
        // the reference reads the stored (rounded) values
        for (int i = 0; i < w.length; i++) w[i] = TestModels.round(w[i], wType);
        for (int i = 0; i < a.length; i++) a[i] = TestModels.round(a[i], abType);
        for (int i = 0; i < b.length; i++) b[i] = TestModels.round(b[i], abType);
        float[] expected = reference(w, a, b, rows, cols, r, s, transposed);
        try (Checkpoint cw = Checkpoint.open(d); Checkpoint cab = Checkpoint.open(ab); Arena arena = Arena.ofConfined()) {
            LoraTensor t = new LoraTensor(cw.tensor("w"), cab.tensor("a"), cab.tensor("b"), s, transposed, product);
            long n = (long) rows * cols;
            for (int chunk : new int[] {1, 13, 1029, (int) n}) {
                MemorySegment buf = arena.allocate(chunk * wType.byteSize());
                // single elements over the first rows only (they cross a row end and two tile ends): enough, and fast
                long limit = chunk == 1 ? 2 * cols + 3 : n;
                for (long start = 0; start < limit; start += chunk) {
                    int count = (int) Math.min(chunk, n - start);
                    t.fill(start, count, buf);
                    for (int o = 0; o < count; o++) {
                        float got = TestModels.decode(buf, wType, o);
                        float want = TestModels.round(expected[(int) (start + o)], wType);
                        if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(want)) {
                            assertEquals(want, got, 0, "chunk " + chunk + " element " + (start + o) + " (" + wType
                                    + ", A/B " + abType + (transposed ? ", transposed" : "") + ")");
                        }
                    }
                }
            }
        }
    }

    @Test
    void plainLinearMatchesTheReferenceOverOddRanges() {
        check(DType.BF16, DType.F32, false, RowProduct.best());
        check(DType.F32, DType.F32, false, RowProduct.best());
        check(DType.F16, DType.BF16, false, RowProduct.SCALAR);
    }

    @Test
    void transposedLayoutsMatchTheReference() {
        // fan_in_fan_out and embeddings: W [in, out], W[i, o] += s * sum_k A[k, i] B[o, k]
        check(DType.BF16, DType.F32, true, RowProduct.best());
        check(DType.F32, DType.F16, true, RowProduct.SCALAR);
    }

    @Test
    void vectorInnerProductIsTheScalarOneBitForBit() {
        Random rnd = new Random(7);
        for (int rank : new int[] {1, 3, 8, 17}) {
            for (int w : new int[] {1, 7, 13, 207, 512}) {
                for (int off : new int[] {0, 5}) {
                    int stride = w + off + 3;
                    float[] coef = random(rnd, rank, 1);
                    float[] tile = random(rnd, rank * stride + off, 1);
                    float[] expected = new float[w];
                    float[] actual = new float[w];
                    RowProduct.SCALAR.accumulate(coef, rank, tile, off, stride, w, expected);
                    RowProduct.best().accumulate(coef, rank, tile, off, stride, w, actual);
                    int[] e = new int[w], g = new int[w];
                    for (int x = 0; x < w; x++) {
                        e[x] = Float.floatToRawIntBits(expected[x]);
                        g[x] = Float.floatToRawIntBits(actual[x]);
                    }
                    assertArrayEquals(e, g, "rank " + rank + " width " + w + " offset " + off);
                }
            }
        }
    }
}
