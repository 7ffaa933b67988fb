package io.mergestream.format;

import io.mergestream.format.checkpoint.Checkpoint;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every committed malformed fixture is rejected with a one-line message naming the file, tensor and rule. */
class MalformedFixturesTest {

    static final Path ROOT = Path.of("testdata", "malformed");

    /**
     * fixture (file or directory under testdata/malformed), the file the message must name, the tensor it
     * must name (or null), and words of the rule.
     */
    static Stream<Arguments> fixtures() {
        return Stream.of(
                rule("short-file-5-bytes.safetensors", null, "5 bytes", "shorter than the 8-byte"),
                rule("header-length-over-100MB.safetensors", null, "100000001", "exceeds the 100 MB limit"),
                rule("header-length-past-end-of-file.safetensors", null, "header length 200", "past the end", "32-byte file"),
                rule("header-not-utf8.safetensors", null, "not valid UTF-8"),
                rule("header-not-json.safetensors", null, "not valid JSON"),
                rule("header-json-array-not-object.safetensors", null, "not a JSON object"),
                rule("header-trailing-garbage-after-json.safetensors", null, "not valid JSON", "after the header object"),
                rule("duplicate-tensor-name.safetensors", null, "duplicate tensor name", "'w'"),
                rule("unknown-dtype.safetensors", "w", "unknown dtype 'F13'"),
                rule("negative-shape-entry.safetensors", "w", "shape entry -2 is negative"),
                rule("non-integer-shape-entry.safetensors", "w", "shape entry 2.5 is not an integer"),
                rule("shape-byte-size-overflows-64-bits.safetensors", "w", "[4294967296, 4294967296]", "overflows 64 bits"),
                rule("data-offsets-end-before-begin.safetensors", "w", "[8, 0]", "end before they begin"),
                rule("data-offsets-span-not-elements-times-dtype-size.safetensors", "w", "hold 12 bytes", "F32 needs 8"),
                rule("gap-between-tensors.safetensors", "b", "begin at 8", "'a' ends at 4", "leaves a gap"),
                rule("overlapping-tensors.safetensors", "b", "begin at 4", "'a' ends at 8", "overlaps"),
                rule("first-tensor-not-at-offset-0.safetensors", "w", "begin at 4", "starts at 0"),
                rule("trailing-bytes-after-tensors.safetensors", null, "cover 8 bytes of a 12-byte data section", "unused bytes"),
                rule("truncated-data-section.safetensors", null, "cover 8 bytes of a 5-byte data section", "truncated"),
                rule("metadata-value-not-string.safetensors", null, "__metadata__", "'format'", "not a string"),
                dir("index-names-missing-shard", CheckpointFiles.INDEX_FILE, "b",
                        "model-00002-of-00002.safetensors", "does not exist"),
                dir("index-maps-tensor-to-wrong-shard", CheckpointFiles.INDEX_FILE, "a",
                        "maps it to model-00002-of-00002.safetensors", "does not hold it"),
                dir("tensor-stored-in-two-shards", "model-00002-of-00002.safetensors", "a",
                        "also stored in model-00001-of-00002.safetensors"),
                dir("only-pytorch-model-bin", "only-pytorch-model-bin", null, "pytorch_model.bin", "pickle",
                        "convert it to safetensors"));
    }

    private static Arguments rule(String file, String tensor, String... words) {
        return Arguments.of(file, file, tensor, List.of(words));
    }

    private static Arguments dir(String dir, String namedFile, String tensor, String... words) {
        return Arguments.of(dir, namedFile, tensor, List.of(words));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void rejectedWithOneLineMessageNamingFileTensorAndRule(String fixture, String namedFile, String tensor, List<String> words) {
        Path path = ROOT.resolve(fixture);
        assertTrue(Files.exists(path), "fixture missing: " + path);
        FormatException e = assertThrows(FormatException.class, () -> {
            try (Checkpoint c = Checkpoint.open(path)) {
                c.tensorCount();
            }
        });
        String msg = e.getMessage();
        assertFalse(msg.contains("\n") || msg.contains("\r"), "message is not a single line: " + msg);
        assertTrue(msg.contains(namedFile), "message does not name " + namedFile + ": " + msg);
        if (tensor != null) {
            assertTrue(msg.contains("tensor '" + tensor + "'"), "message does not name tensor " + tensor + ": " + msg);
        }
        for (String w : words) {
            assertTrue(msg.contains(w), "message lacks '" + w + "': " + msg);
        }
    }

    @Test
    void everyFixtureIsTinyAndListedInTheReadme() throws IOException {
        String readme = Files.readString(ROOT.resolve("README.md"));
        List<String> tested = fixtures().map(a -> (String) a.get()[0]).toList();
        for (String f : tested) {
            assertTrue(readme.contains("`" + f), "README.md does not list " + f);
        }
        try (Stream<Path> all = Files.walk(ROOT)) {
            for (Path p : all.filter(Files::isRegularFile).toList()) {
                if (p.getFileName().toString().equals("README.md")) continue;
                assertTrue(Files.size(p) <= 512, p + " is not tiny");
                Path top = ROOT.relativize(p).getName(0);
                assertTrue(tested.contains(top.toString()), p + " is committed but no test uses it");
            }
        }
    }

    @Test
    void committedFixturesAreWhatTheGeneratorWrites() throws IOException {
        Map<String, byte[]> expected = MalformedFixtures.files();
        assertEquals(24, expected.keySet().stream().map(k -> k.split("/")[0]).distinct().count());
        for (Map.Entry<String, byte[]> e : expected.entrySet()) {
            Path p = ROOT.resolve(e.getKey());
            assertTrue(Files.isRegularFile(p), "not committed: " + p + " (run MalformedFixtures.main)");
            assertArrayEquals(e.getValue(), Files.readAllBytes(p), p + " differs from the generator");
        }
    }
}
