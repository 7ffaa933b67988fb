package io.mergestream.fuzz;

import io.mergestream.format.CheckpointFiles;
import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.safetensors.SafetensorsHeader;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
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
        FuzzSupport.write(dir.resolve(CheckpointFiles.SINGLE_FILE), file);
        FuzzSupport.refusedOr(() -> {
            try (Checkpoint c = Checkpoint.open(dir)) {
                check(c.shards().size() == 1, "one file, " + c.shards().size() + " shards");
                FuzzSupport.checkCheckpoint(c);
                if (planted("safetensors")) {
                    // stands in for a reader that mishandles a dtype no seed holds
                    for (var t : c.tensors()) {
                        if (t.info().dtype() == DType.I32) throw new FuzzSupport.PlantedBug("an I32 tensor: " + t.info());
                    }
                }
            }
        });
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
        FuzzSupport.refusedOr(() -> {
            SafetensorsHeader h = SafetensorsHeader.parse(Path.of("fuzz.safetensors"), json, dataBytes);
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
            check(next == dataBytes, "tensors cover " + next + " of " + dataBytes + " data bytes");
            if (planted("header")) {
                // stands in for code that assumes every file's metadata says format: pt
                h.metadata().forEach((k, v) -> {
                    if (k.equals("format") && !v.equals("pt")) throw new FuzzSupport.PlantedBug("metadata format " + v);
                });
            }
        });
    }
}
