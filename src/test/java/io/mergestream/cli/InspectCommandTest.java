package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.format.Json;
import io.mergestream.format.TestCheckpoints;
import io.mergestream.format.TestCheckpoints.Tensor;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {

    @TempDir
    Path model;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    /**
     * a.weight F32 [2,3] 24 B | b BF16 [4] 8 B, c F32 [5] 20 B | step I64 [] 8 B: three shards at 30 bytes;
     * 4 tensors, 16 parameters, 60 bytes; F32 2 tensors 11 parameters 44 B.
     */
    @BeforeEach
    void writeModel() {
        Random rnd = new Random(7);
        List<Tensor> ts = List.of(TestCheckpoints.random(rnd, "a.weight", DType.F32, 2, 3),
                TestCheckpoints.random(rnd, "b", DType.BF16, 4),
                TestCheckpoints.random(rnd, "c", DType.F32, 5),
                TestCheckpoints.random(rnd, "step", DType.I64));
        assertEquals(3, TestCheckpoints.write(model, ts, 30).shards().size());
    }

    private static void assertMatches(String regex, String text) {
        assertTrue(Pattern.compile(regex, Pattern.MULTILINE).matcher(text).find(), "no match for /" + regex + "/ in:\n" + text);
    }

    @Test
    void textSummaryHasTheRightNumbers() {
        CliRun r = run("inspect", model.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        assertMatches("^shards\\s+3$", r.out());
        assertMatches("^\\s+model-00001-of-00003\\.safetensors\\s+1 tensors\\s", r.out());
        assertMatches("^\\s+model-00002-of-00003\\.safetensors\\s+2 tensors\\s", r.out());
        assertMatches("^tensors\\s+4$", r.out());
        assertMatches("^parameters\\s+16 \\(16\\)$", r.out());
        assertMatches("^\\s+F32\\s+2 tensors\\s+11 parameters\\s+44 B$", r.out());
        assertMatches("^\\s+BF16\\s+1 tensors\\s+4 parameters\\s+8 B$", r.out());
        assertMatches("^\\s+I64\\s+1 tensors\\s+1 parameters\\s+8 B$", r.out());
        assertMatches("^total size\\s+60 B \\(60 bytes of tensor data\\)$", r.out());
        assertTrue(!r.out().contains("a.weight"), "no tensor list without --tensors");
    }

    @Test
    void jsonSummaryParsesAndHasTheRightNumbers() throws IOException {
        CliRun r = run("inspect", "--json", model.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals(3, j.get("shards").size());
        assertEquals("model-00003-of-00003.safetensors", j.get("shards").get(2).get("file").asText());
        assertEquals(1, j.get("shards").get(2).get("tensors").asInt());
        assertEquals(4, j.get("tensor_count").asInt());
        assertEquals(16, j.get("parameters").asLong());
        assertEquals(60, j.get("total_bytes").asLong());
        assertEquals(2, j.get("dtypes").get("F32").get("tensors").asInt());
        assertEquals(11, j.get("dtypes").get("F32").get("parameters").asLong());
        assertEquals(44, j.get("dtypes").get("F32").get("bytes").asLong());
        assertEquals(8, j.get("dtypes").get("BF16").get("bytes").asLong());
        assertEquals(3, j.get("dtypes").size());
        assertTrue(j.get("tensors") == null);
    }

    @Test
    void tensorsOptionListsEveryTensor() throws IOException {
        CliRun r = run("inspect", "--tensors", model.toString());
        assertEquals(0, r.code(), r.err());
        assertMatches("^a\\.weight\\s+F32\\s+\\[2, 3\\]\\s+model-00001-of-00003\\.safetensors$", r.out());
        assertMatches("^b\\s+BF16\\s+\\[4\\]\\s+model-00002-of-00003\\.safetensors$", r.out());
        assertMatches("^c\\s+F32\\s+\\[5\\]\\s+model-00002-of-00003\\.safetensors$", r.out());
        assertMatches("^step\\s+I64\\s+\\[\\]\\s+model-00003-of-00003\\.safetensors$", r.out());

        JsonNode j = Json.MAPPER.readTree(run("inspect", "--json", "--tensors", model.toString()).out());
        assertEquals(4, j.get("tensors").size());
        JsonNode first = j.get("tensors").get(0);
        assertEquals("a.weight", first.get("name").asText());
        assertEquals("[2,3]", first.get("shape").toString());
        assertEquals("step", j.get("tensors").get(3).get("name").asText());
        assertEquals("[]", j.get("tensors").get(3).get("shape").toString());
    }

    @Test
    void aSingleShardFileCanBeInspected() throws IOException {
        CliRun r = run("inspect", "--json", model.resolve("model-00002-of-00003.safetensors").toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals(2, j.get("tensor_count").asInt());
        assertEquals(28, j.get("total_bytes").asLong());
    }

    @Test
    void malformedFileExitsWith2AndOneLineOnStderr() {
        String file = Path.of("testdata", "malformed", "unknown-dtype.safetensors").toString();
        CliRun r = run("inspect", file);
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals("", r.out());
        assertEquals(1, r.err().lines().count(), r.err());
        assertEquals("mergestream: " + file + ": tensor 'w': unknown dtype 'F13'", r.err().strip());
    }

    @Test
    void missingModelAndPickleOnlyModelExitWith2() {
        CliRun missing = run("inspect", model.resolve("nope").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().startsWith("mergestream: ") && missing.err().contains("no such file"), missing.err());
        CliRun pickle = run("inspect", Path.of("testdata", "malformed", "only-pytorch-model-bin").toString());
        assertEquals(2, pickle.code());
        assertEquals(1, pickle.err().lines().count());
        assertTrue(pickle.err().contains("pickle"), pickle.err());
    }

    @Test
    void badOptionExitsWith2() {
        CliRun r = run("inspect", "--no-such-option", model.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--no-such-option"), r.err());
    }

    /** {@code mergestream inspect .} from inside a sharded model: "." must count as the model directory. */
    @Test
    void inspectDotFromInsideAShardedModel() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", io.mergestream.TestFiles.childClassPath(),
                Main.class.getName(), "inspect", ".")
                .directory(model.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertMatches("^tensors\\s+4$", out);
        assertTrue(Files.exists(model.resolve("model.safetensors.index.json")));
    }
}
