package io.mergestream.fuzz;

import io.mergestream.format.CheckpointFiles;
import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.safetensors.SafetensorsHeader;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzz targets for safetensors: the whole file through {@link Checkpoint#open} (the highest-level entry: the
 * length prefix, the JSON header, the offsets, the mapping), and {@link SafetensorsHeader#parse} directly.
 * Corpus: {@code src/test/resources/io/mergestream/fuzz/SafetensorsFuzzTestInputs/<method>/}.
 */
class SafetensorsFuzzTest {

    @TempDir
    static Path dir;

    /** Bytes of {@code model.safetensors} in an otherwise empty model directory. */
    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzCheckpoint(byte[] file) {
        if (planted("safetensors")) plantedHeaderLengthCheck(file);
        FuzzSupport.write(dir.resolve(CheckpointFiles.SINGLE_FILE), file);
        FuzzSupport.refusedOr(() -> {
            try (Checkpoint c = Checkpoint.open(dir)) {
                check(c.shards().size() == 1, "one file, " + c.shards().size() + " shards");
                FuzzSupport.checkCheckpoint(c);
            }
        });
    }

    /**
     * The planted bug {@code safetensors}: the framing of {@code SafetensorsFile.open} with its bound check
     * {@code 8 + headerLength > size} written off by one, as {@code headerLength > size - 8 + 1}. The one length
     * it lets through more, a header running one byte past the end of the file, is then sliced out of the file
     * as the reader slices it out of its mapping, and the slice fails. Inputs that reach it: a file whose header
     * lost its last byte (the tiny-llama header-only seed with one byte erased), or the length field set from the
     * comparison's operand.
     */
    private static void plantedHeaderLengthCheck(byte[] file) {
        if (file.length < 8) return;
        long headerLength = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 0 || headerLength > file.length - 8 + 1) return; // the buggy bound: refused
        try {
            MemorySegment.ofArray(file).asSlice(8, headerLength);
        } catch (IndexOutOfBoundsException e) {
            throw new FuzzSupport.PlantedBug("header length " + headerLength + " passed the bound check of a "
                    + file.length + "-byte file: " + e.getMessage());
        }
    }

    /**
     * The input laid out as a file (u64 length, JSON, data section), cut as the file reader cuts it; inputs the
     * reader refuses before the header parser (too short, a length past the end) are skipped here.
     */
    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzHeader(byte[] file) {
        if (file.length < 8) return;
        long length = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (length < 0 || length > file.length - 8) return;
        byte[] json = Arrays.copyOfRange(file, 8, 8 + (int) length);
        long dataBytes = file.length - 8 - length;
        // The planted bug "header": the data section's size computed one byte too long (size - dataStart + 1),
        // an off-by-one in the bound the parser checks every offset against; the invariants below still hold
        // the parse to the true size. A file one byte short of its header's last offset then parses.
        long boundGiven = planted("header") ? dataBytes + 1 : dataBytes;
        FuzzSupport.refusedOr(() -> {
            SafetensorsHeader h = SafetensorsHeader.parse(Path.of("fuzz.safetensors"), json, boundGiven);
            Set<String> names = new HashSet<>();
            List<TensorInfo> byOffset = new ArrayList<>();
            for (TensorInfo t : h.tensors()) {
                check(names.add(t.name()), "tensor '" + t.name() + "' twice");
                check(!t.name().equals(SafetensorsHeader.METADATA_KEY), "__metadata__ read as a tensor");
                FuzzSupport.checkTensor(t);
                byOffset.add(t);
            }
            byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
            long next = 0;
            for (TensorInfo t : byOffset) {
                check(t.begin() == next, t + " does not start where the previous tensor ends (" + next + ")");
                next = t.end();
            }
            if (next != dataBytes && planted("header")) {
                throw new FuzzSupport.PlantedBug("tensors cover " + next + " bytes of a " + dataBytes
                        + "-byte data section, parsed against " + boundGiven);
            }
            check(next == dataBytes, "tensors cover " + next + " of " + dataBytes + " data bytes");
        });
    }
}
