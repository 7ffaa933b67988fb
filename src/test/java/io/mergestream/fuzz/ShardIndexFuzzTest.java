package io.mergestream.fuzz;

import io.mergestream.format.CheckpointFiles;
import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzz target for the sharded layout: {@code model.safetensors.index.json} and two shards, opened by
 * {@link Checkpoint#open}. The input is framed: u32 LE length, the index (none when the length is 0: shards
 * without an index), u32 LE length, shard 1, then shard 2 (the rest; no file when empty).
 */
class ShardIndexFuzzTest {

    static final String SHARD1 = "model-00001-of-00002.safetensors";
    static final String SHARD2 = "model-00002-of-00002.safetensors";

    @TempDir
    static Path dir;

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzShardIndex(byte[] input) {
        if (input.length < 8) return;
        long indexLength = FuzzSupport.u32(input, 0);
        if (indexLength > input.length - 8) return;
        int at = 4;
        byte[] index = Arrays.copyOfRange(input, at, at + (int) indexLength);
        at += (int) indexLength;
        long shard1Length = FuzzSupport.u32(input, at);
        at += 4;
        if (shard1Length > input.length - at) return;
        byte[] shard1 = Arrays.copyOfRange(input, at, at + (int) shard1Length);
        byte[] shard2 = Arrays.copyOfRange(input, at + (int) shard1Length, input.length);
        FuzzSupport.clear(dir);
        if (index.length > 0) FuzzSupport.write(dir.resolve(CheckpointFiles.INDEX_FILE), index);
        FuzzSupport.write(dir.resolve(SHARD1), shard1);
        if (shard2.length > 0) FuzzSupport.write(dir.resolve(SHARD2), shard2);
        FuzzSupport.refusedOr(() -> {
            try (Checkpoint c = Checkpoint.open(dir)) {
                FuzzSupport.checkCheckpoint(c);
                if (index.length > 0) checkAgainstIndex(c, index);
                for (var shard : c.shards()) {
                    check(shard.path().toAbsolutePath().normalize().startsWith(dir.toAbsolutePath().normalize()),
                            "a shard outside the model directory: " + shard.path());
                }
            }
        });
    }

    /** Every tensor is where the index says, and the index names no tensor the shards lack. */
    private static void checkAgainstIndex(Checkpoint c, byte[] index) {
        JsonNode weightMap;
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index);
        } catch (java.io.IOException e) {
            throw new FuzzSupport.ContractViolation("contract broken: an index that is not JSON was accepted: " + e);
        }
        weightMap = root.get("weight_map");
        check(weightMap != null && weightMap.isObject(), "an index without weight_map was accepted");
        check(weightMap.size() == c.tensorCount(), "the index maps " + weightMap.size() + " tensors, the checkpoint holds "
                + c.tensorCount());
        for (var e : weightMap.properties()) {
            StoredTensor t = c.tensor(e.getKey());
            check(t != null, "the index names '" + e.getKey() + "', the checkpoint lacks it");
            check(t.shard().path().getFileName().toString().equals(Path.of(e.getValue().textValue()).getFileName().toString()),
                    "'" + e.getKey() + "' is in " + t.shard().path().getFileName() + ", the index says " + e.getValue());
        }
        if (planted("index")) {
            // stands in for code that presizes the output from metadata.total_size instead of the tensors
            JsonNode total = root.path("metadata").path("total_size");
            long sum = c.tensors().stream().mapToLong(t -> t.info().byteSize()).sum();
            if (total.isIntegralNumber() && total.asLong() != sum) {
                throw new FuzzSupport.PlantedBug("metadata.total_size " + total + " but the tensors hold " + sum);
            }
        }
        check(Files.isRegularFile(c.shards().getFirst().path()), "a shard that is not a file");
    }
}
