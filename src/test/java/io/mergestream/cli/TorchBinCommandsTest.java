package io.mergestream.cli;

import io.mergestream.format.CheckpointFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The commands on the real torch.save fixtures: inspect, convert, and the refusal of malicious pickles. */
class TorchBinCommandsTest {

    static final Path FIXTURES = Path.of("..", "shared", "fixtures", "torch-bin");
    static final Path TINY = Path.of("testdata", "tiny-llama");
    /** What the malicious pickles would create if anything unpickled them with Python's unpickler. */
    static final Path MARKER = Path.of("/tmp/mergestream-fixture-pwned");

    @TempDir
    Path tmp;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @BeforeAll
    static void noMarkerYet() {
        assertFalse(Files.exists(MARKER), MARKER + " exists before the test ran: remove it, or this test proves nothing");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"os-system, os.system", "posix-system-proto2, posix.system", "builtins-exec, __builtin__.exec",
            "nested-in-dict, posix.system"})
    void maliciousPicklesAreRefusedNamingFileAndGlobal(String fixture, String global) {
        Path dir = FIXTURES.resolve("malicious").resolve(fixture);
        Path out = tmp.resolve("out");
        for (String[] args : List.of(new String[] {"inspect", dir.toString()},
                new String[] {"convert", dir.toString(), "-o", out.toString(), "-q"},
                new String[] {"delta-stats", "--base", dir.toString(), "--model", dir.toString()})) {
            CliRun r = run(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            String err = r.err().strip();
            assertFalse(err.contains("\n"), "not one line: " + err);
            assertTrue(err.contains(dir.resolve("pytorch_model.bin").toString()), err);
            assertTrue(err.contains("'" + global + "'"), err);
            assertFalse(err.contains("Exception"), err);
            assertFalse(Files.exists(MARKER), MARKER + " appeared");
            assertFalse(Files.exists(out), "convert left an output");
        }
    }

    @Test
    void inspectReadsABinModelFromDataPklAlone() throws IOException {
        CliRun r = run("inspect", FIXTURES.resolve("ft2-sharded").toString(), "--json", "--tensors");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals(21, j.get("tensor_count").asInt());
        assertEquals(2, j.get("shards").size());
        assertEquals("pytorch_model-00001-of-00002.bin", j.get("shards").get(0).get("file").asText());
        // total_size in the index that torch's save_pretrained wrote
        JsonNode index = Json.read(FIXTURES.resolve("ft2-sharded").resolve(CheckpointFiles.BIN_INDEX_FILE));
        assertEquals(index.get("metadata").get("total_size").asLong(), j.get("total_bytes").asLong());
        // a strided tensor does not stop inspect: it reads no tensor data
        CliRun s = run("inspect", FIXTURES.resolve("ft1-strided").toString());
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("tensors     21"), s.out());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"base, tiny-llama/base", "ft1, tiny-llama/ft1", "ft2-sharded, tiny-llama/ft2",
            "ft1-state-dict-metadata, tiny-llama/ft1", "ft1-shared-storage, torch-bin/ft1-shared-storage.expected"})
    void convertWritesTheSafetensorsOriginalsTensorsByteForByte(String fixture, String original) throws IOException {
        Path out = tmp.resolve(fixture);
        CliRun r = run("convert", FIXTURES.resolve(fixture).toString(), "-o", out.toString(), "-q", "--out-shard-size", "100KB");
        assertEquals(0, r.code(), r.err());
        Path expectedDir = original.startsWith("torch-bin/") ? FIXTURES.resolve(original.substring(10)) : Path.of("testdata").resolve(original);
        // 213 KB of tensors at 100 KB a shard: sharded, with an index naming every tensor
        JsonNode index = Json.read(out.resolve(CheckpointFiles.INDEX_FILE));
        assertEquals(21, index.get("weight_map").size());
        try (Stream<Path> files = Files.list(out)) {
            List<Path> shards = files.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
            assertTrue(shards.size() >= 2, "shards: " + shards);
            for (Path p : shards) SafetensorsFile.open(p).close();
        }
        try (Checkpoint converted = Checkpoint.open(out); Checkpoint expected = Checkpoint.open(expectedDir)) {
            assertEquals(new TreeSet<>(names(expected)), new TreeSet<>(names(converted)));
            for (StoredTensor e : expected.tensors()) {
                StoredTensor c = converted.tensor(e.name());
                assertEquals(e.info().dtype(), c.info().dtype(), e.name());
                assertArrayEquals(e.info().shape(), c.info().shape(), e.name());
                assertEquals(-1, e.data().mismatch(c.data()), e.name());
            }
        }
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                "generation_config.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertEquals(Files.readString(FIXTURES.resolve(fixture).resolve("tokenizer.json")), Files.readString(out.resolve("tokenizer.json")));
        assertEquals("bfloat16", Json.read(out.resolve("config.json")).get("torch_dtype").asText());
    }

    @Test
    void convertOfASafetensorsModelGivesTheSameTensors() {
        Path out = tmp.resolve("st");
        CliRun r = run("convert", TINY.resolve("ft2").toString(), "-o", out.toString(), "-q");
        assertEquals(0, r.code(), r.err());
        try (Checkpoint converted = Checkpoint.open(out); Checkpoint expected = Checkpoint.open(TINY.resolve("ft2"))) {
            assertEquals(1, converted.shards().size()); // 213 KB fits the default 5 GB shard
            for (StoredTensor e : expected.tensors()) assertEquals(-1, e.data().mismatch(converted.tensor(e.name()).data()));
        }
    }

    @Test
    void convertRefusesAStridedTensorBeforeWritingAnything() {
        Path out = tmp.resolve("strided");
        CliRun r = run("convert", FIXTURES.resolve("ft1-strided").toString(), "-o", out.toString(), "-q");
        assertEquals(2, r.code());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), err);
        assertTrue(err.contains("tensor 'model.layers.0.mlp.down_proj.weight'") && err.contains("non-contiguous"), err);
        assertFalse(Files.exists(out));
    }

    @ParameterizedTest
    @ValueSource(strings = {"legacy-format", "malicious/os-system"})
    void aDirectoryWithSafetensorsBesideABinUsesTheSafetensors(String bin) throws IOException {
        Path dir = tmp.resolve("both");
        Files.createDirectories(dir);
        Files.copy(TINY.resolve("ft1").resolve("model.safetensors"), dir.resolve("model.safetensors"));
        // a .bin that would be refused if read
        Files.copy(FIXTURES.resolve(bin).resolve("pytorch_model.bin"), dir.resolve("pytorch_model.bin"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(List.of(dir.resolve("model.safetensors")), c.shards().stream().map(f -> f.path()).toList());
            assertEquals(21, c.tensorCount());
        }
    }

    @Test
    void ggufIsRecognisedByItsMagicAndRefusedByName() throws IOException {
        Path gguf = tmp.resolve("model.safetensors");
        Files.write(gguf, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        CliRun r = run("inspect", gguf.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains(gguf.toString()) && r.err().contains("GGUF"), r.err());
        assertFalse(r.err().contains("100 MB"), r.err());
        Path dir = tmp.resolve("gguf-dir");
        Files.createDirectories(dir);
        Files.copy(gguf, dir.resolve("model-q4.gguf"));
        CliRun d = run("inspect", dir.toString());
        assertEquals(2, d.code());
        assertTrue(d.err().contains("GGUF"), d.err());
    }

    @Test
    void aSafetensorsFileNamedBinIsReadAsSafetensors() throws IOException {
        Path bin = tmp.resolve("pytorch_model.bin");
        Files.copy(TINY.resolve("ft1").resolve("model.safetensors"), bin);
        try (Checkpoint c = Checkpoint.open(bin); Checkpoint orig = Checkpoint.open(TINY.resolve("ft1"))) {
            assertTrue(c.shards().getFirst() instanceof SafetensorsFile);
            for (StoredTensor e : orig.tensors()) assertEquals(-1, e.data().mismatch(c.tensor(e.name()).data()));
        }
    }

    /** A FIFO named like a .bin would block an open forever: it is refused by what it is, before any open. */
    @Test
    void aFifoIsRefusedWithoutOpeningIt() throws Exception {
        Path dir = tmp.resolve("fifo");
        Files.createDirectories(dir);
        Path fifo = dir.resolve("pytorch_model.bin");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mkfifo.waitFor(), "mkfifo");
        CliRun r = run("inspect", dir.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(fifo.toString()) && r.err().contains("not a regular file"), r.err());
    }

    static List<String> names(Checkpoint c) {
        return c.tensors().stream().map(StoredTensor::name).toList();
    }
}
