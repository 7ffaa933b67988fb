package io.mergestream.fuzz;

import io.mergestream.MergestreamException;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.TensorFile;
import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What every fuzz target shares: the contract (a valid parse whose invariants hold, or the project's own
 * bad-input exception, {@link MergestreamException}; anything else is a finding) and the planted-bug switches.
 *
 * <p>A planted bug is test code only: with {@code -Dmergestream.test.plant.NAME=true} a target treats one rare
 * but valid parse result as a failure, standing in for a parser bug that only such an input triggers. It
 * shows the target reaches that state by itself ({@code bench/fuzz.sh --plant NAME}); no production code reads
 * these properties.
 */
final class FuzzSupport {

    private FuzzSupport() {}

    /** A contract violation found by a target: never thrown by the code under test, so never caught by a target. */
    static final class ContractViolation extends AssertionError {
        ContractViolation(String message) {
            super(message);
        }
    }

    /** The planted bug NAME, fired: distinct from a real violation so a documented run can tell them apart. */
    static final class PlantedBug extends AssertionError {
        PlantedBug(String message) {
            super("planted bug: " + message);
        }
    }

    static boolean planted(String name) {
        return Boolean.getBoolean("mergestream.test.plant." + name);
    }

    static void check(boolean condition, String what) {
        if (!condition) throw new ContractViolation("contract broken: " + what);
    }

    /**
     * Runs {@code parse}: a {@link MergestreamException} is a refusal, which the contract allows. Every other
     * throwable (another RuntimeException, an Error, an OutOfMemoryError, a ContractViolation from the
     * invariant checks inside {@code parse}) propagates and is a finding.
     */
    static void refusedOr(Runnable parse) {
        try {
            parse.run();
        } catch (MergestreamException refused) {
            if (refused.getMessage() == null || refused.getMessage().isBlank()) {
                throw new ContractViolation("a refusal without a message: " + refused);
            }
        }
    }

    static void write(Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes every file directly in {@code dir}, so each input starts from an empty model directory. */
    static void clear(Path dir) {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    /**
     * The invariants of an opened checkpoint, for every reader: no tensor twice (across shards too), every
     * tensor's byte size equal to its element count times its dtype size (no overflow), its bytes inside its file
     * and readable at both ends; for safetensors also no two tensors overlapping and the data section covered.
     */
    static void checkCheckpoint(Checkpoint c) {
        Set<String> names = new HashSet<>();
        int total = 0;
        for (TensorFile f : c.shards()) {
            long fileSize;
            try {
                fileSize = Files.size(f.path());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            check(f.fileSize() == fileSize, f.path() + ": fileSize() " + f.fileSize() + " is not the file's " + fileSize);
            List<long[]> ranges = new ArrayList<>();
            for (TensorInfo t : f.tensors()) {
                total++;
                check(names.add(t.name()), "tensor '" + t.name() + "' listed twice");
                checkTensor(t);
                try {
                    f.checkReadable(t);
                } catch (MergestreamException notReadable) {
                    continue; // e.g. a strided .bin view: listed, refused when used; the contract allows it
                }
                long off = f.fileOffset(t);
                check(off >= 0 && off <= fileSize - t.byteSize(), t + " at file offset " + off + " runs outside the "
                        + fileSize + "-byte file");
                MemorySegment data = f.data(t);
                check(data.byteSize() == t.byteSize(), t + ": data() has " + data.byteSize() + " bytes");
                if (data.byteSize() > 0) {
                    data.get(ValueLayout.JAVA_BYTE, 0);
                    data.get(ValueLayout.JAVA_BYTE, data.byteSize() - 1);
                }
                ranges.add(new long[] {off, off + t.byteSize()});
            }
            if (f instanceof SafetensorsFile st) {
                ranges.sort(Comparator.comparingLong(r -> r[0]));
                long covered = 0;
                for (int i = 0; i < ranges.size(); i++) {
                    if (i > 0) check(ranges.get(i)[0] >= ranges.get(i - 1)[1], f.path() + ": two tensors overlap");
                    covered += ranges.get(i)[1] - ranges.get(i)[0];
                }
                check(covered == fileSize - 8 - st.headerLength(), f.path() + ": tensors cover " + covered
                        + " bytes of a " + (fileSize - 8 - st.headerLength()) + "-byte data section");
            }
        }
        check(c.tensorCount() == total, "the checkpoint holds " + c.tensorCount() + " tensors, its shards " + total);
        for (String n : names) check(c.contains(n) && c.tensor(n).name().equals(n), "tensor '" + n + "' not found by name");
    }

    /** size = elements x dtype size, with the element count not overflowing; offsets ordered and non-negative. */
    static void checkTensor(TensorInfo t) {
        check(t.begin() >= 0 && t.end() >= t.begin(), t + ": offsets out of order");
        long elements;
        try {
            elements = Math.multiplyExact(TensorInfo.elementCount(t.shape()), t.dtype().byteSize());
        } catch (ArithmeticException e) {
            throw new ContractViolation("contract broken: " + t + ": shape x dtype size overflows 64 bits");
        }
        for (long d : t.shape()) check(d >= 0, t + ": negative dimension");
        check(t.byteSize() == elements, t + ": " + t.byteSize() + " bytes, shape x dtype size is " + elements);
    }
}
