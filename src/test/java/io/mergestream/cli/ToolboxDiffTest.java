package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.TestModels;
import io.mergestream.format.Json;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mergestream diff}: exit codes and counts on identical and perturbed models. */
class ToolboxDiffTest {

    @TempDir
    static Path dir;

    static Path a;
    static Path same;
    static Path perturbed;
    static Path reshaped;
    static float[] w;
    static float[] v;

    static CliRun run(String... args) {
        return ToolboxDareTest.run(args);
    }

    @BeforeAll
    static void write() {
        Random rnd = new Random(5);
        w = ToolboxDareTest.gaussian(rnd, 500, 0.02f);
        v = ToolboxDareTest.gaussian(rnd, 30, 1f);
        a = TestModels.write(dir.resolve("a"), DType.F32, new TestModels.Model()
                .put("w", new long[] {20, 25}, w).put("v", new long[] {30}, v));
        same = TestModels.write(dir.resolve("same"), DType.F32, new TestModels.Model()
                .put("w", new long[] {20, 25}, w).put("v", new long[] {30}, v), 1000); // sharded: layout does not matter
        float[] w2 = w.clone();
        w2[3] += 0.25f;      // |diff| 0.25 (up to f32 rounding)
        w2[100] -= 0.001f;   // small
        w2[499] = -w2[499] + 0f; // sign flip
        perturbed = TestModels.write(dir.resolve("perturbed"), DType.F32, new TestModels.Model()
                .put("w", new long[] {20, 25}, w2).put("v", new long[] {30}, v));
        reshaped = TestModels.write(dir.resolve("reshaped"), DType.F32, new TestModels.Model()
                .put("w", new long[] {25, 20}, w).put("extra", new long[] {2}, new float[2]));
    }

    @Test
    void identicalModelsExitZero() {
        CliRun r = run("diff", a.toString(), same.toString(), "-q");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("MATCH: 2 tensors compared, 0 differ"), r.out());
    }

    @Test
    void perturbedModelExitsOneWithTheRightCounts() throws IOException {
        CliRun r = run("diff", a.toString(), perturbed.toString(), "--json", "-q", "--threads", "2");
        assertEquals(1, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals(false, j.get("match").asBoolean());
        JsonNode t = j.get("tensors").get(0).get("name").asText().equals("w") ? j.get("tensors").get(0) : j.get("tensors").get(1);
        assertEquals(500, t.get("elements").asLong());
        boolean flipIdentical = w[499] == 0f;
        long changed = flipIdentical ? 2 : 3;
        assertEquals(500 - changed, t.get("identical").asLong());
        assertEquals(changed, t.get("over_tolerance").asLong());
        float x = w[3];
        float y = w[3] + 0.25f;
        double expectedMax = Math.max(Math.abs(x - y), Math.abs(w[499] - -w[499]));
        assertEquals(expectedMax, t.get("max_abs_diff").asDouble(), 0);
        double sum = (double) Math.abs(x - y) + (double) Math.abs(w[100] - (w[100] - 0.001f)) + (double) Math.abs(w[499] - -w[499]);
        assertEquals(sum / 500, t.get("mean_abs_diff").asDouble(), 1e-12);

        // Within a tolerance above every difference: the models match.
        r = run("diff", a.toString(), perturbed.toString(), "--tolerance", String.valueOf(expectedMax), "-q");
        assertEquals(0, r.code(), r.out());
        // A tolerance between the small and the large differences leaves the large ones.
        r = run("diff", a.toString(), perturbed.toString(), "--tolerance", "0.0015", "--json", "-q");
        assertEquals(1, r.code());
        JsonNode t2 = Json.MAPPER.readTree(r.out()).get("tensors");
        long over = 0;
        for (JsonNode n : t2) over += n.get("over_tolerance").asLong();
        assertEquals(Math.abs(2 * w[499]) > 0.0015 ? 2 : 1, over);
    }

    @Test
    void missingTensorsAndShapeDifferencesAreReported() {
        CliRun r = run("diff", a.toString(), reshaped.toString(), "-q");
        assertEquals(1, r.code());
        assertTrue(r.out().contains("only in A: v"), r.out());
        assertTrue(r.out().contains("only in B: extra"), r.out());
        assertTrue(r.out().contains("shape differs: w [20, 25] vs [25, 20]"), r.out());
    }

    @Test
    void badInputExitsTwo() {
        CliRun r = run("diff", a.toString(), dir.resolve("nope").toString());
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertEquals(2, run("diff", a.toString(), same.toString(), "--tolerance", "-1").code());
    }
}
