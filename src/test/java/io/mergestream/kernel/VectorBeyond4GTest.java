package io.mergestream.kernel;

import io.mergestream.tensor.Elements;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mergestream.tensor.DType;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Element indices past 2^32: the DARE hash takes the index's high word, and the vector kernel cuts its ranges
 * at multiples of 2^32 to keep that word fixed per loop. Tensors of 2^32 + 4096 bf16 elements (8 GB) are
 * sparse files, so only the pages around the boundary are ever written; the kernels must agree bit for bit on
 * chunks that end before, straddle and start after the boundary.
 */
class VectorBeyond4GTest {
    private static final long BOUNDARY = 1L << 32;
    private static final long ELEMENTS = BOUNDARY + 4096;

    @Test
    void vectorAgreesWithScalarAcrossTheFirst4GBoundary(@TempDir Path dir) throws IOException {
        MergeKernel scalar = Kernels.scalar();
        MergeKernel vector = Kernels.byName("vector");
        Random random = new Random(4);
        try (Arena arena = Arena.ofConfined()) {
            TensorView base = sparse(dir.resolve("base"), arena);
            TensorView[] models = {sparse(dir.resolve("m0"), arena), sparse(dir.resolve("m1"), arena)};
            long from = BOUNDARY - 3000, to = ELEMENTS;
            for (long i = from; i < to; i++) {
                float b = (float) random.nextGaussian() * 0.02f;
                base.set(i, b);
                for (TensorView m : models) m.set(i, b + (float) random.nextGaussian() * 0.002f);
            }
            Sparsifier[] sparsifiers = {DareMask.sparsifier(9, 0, "w", 0.3, true),
                    DareMask.sparsifier(9, 1, "w", 0.6, true)};
            TaskArithmeticOp op = new TaskArithmeticOp(new float[]{0.6f, 0.4f}, sparsifiers, Consensus.WEIGHTED_SUM,
                    true, 1f);
            TensorView expected = sparse(dir.resolve("expected"), arena);
            TensorView actual = sparse(dir.resolve("actual"), arena);
            long[][] chunks = {{from, 1000}, {from + 1000, 3000}, {BOUNDARY + 1000, 3096}, {BOUNDARY - 7, 14}};
            for (long[] c : chunks) {
                scalar.taskArithmetic(op, base, models, expected, c[0], (int) c[1]);
                vector.taskArithmetic(op, base, models, actual, c[0], (int) c[1]);
            }
            for (long i = from; i < to; i++) {
                assertEquals(expected.data().get(Elements.I16, 2 * i),
                        actual.data().get(Elements.I16, 2 * i), "element " + i);
            }
        }
    }

    /** A bf16 tensor of ELEMENTS zeros, mapped from a sparse file. */
    private static TensorView sparse(Path file, Arena arena) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(ELEMENTS * 2);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment data = channel.map(FileChannel.MapMode.READ_WRITE, 0, ELEMENTS * 2, arena);
            return new TensorView(data, DType.BF16);
        }
    }
}
