package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A merge of the torch.save fixtures gives the same files, byte for byte, as the same recipe over the
 * safetensors originals (the bundled recipes, with their model paths pointed at the .bin directories).
 */
class BinInputsMergeTest {

    static final Path RECIPES = Path.of("testdata", "recipes");
    static final Path FIXTURES = Path.of("..", "shared", "fixtures", "torch-bin").toAbsolutePath().normalize();

    @TempDir
    static Path dir;

    /** The bundled recipe with {@code ../tiny-llama/NAME} replaced by the absolute safetensors or .bin path. */
    static Path recipe(String name, boolean bin) throws IOException {
        String body = Files.readString(RECIPES.resolve(name + ".yml"));
        Path tiny = Path.of("testdata", "tiny-llama").toAbsolutePath();
        Map<String, Path> models = bin
                ? Map.of("../tiny-llama/base", FIXTURES.resolve("base"), "../tiny-llama/ft1", FIXTURES.resolve("ft1"),
                        "../tiny-llama/ft2", FIXTURES.resolve("ft2-sharded"),
                        // f32 holding ft3's bf16 values widened: the kernels decode both to the same f32
                        "../tiny-llama/ft3", FIXTURES.resolve("ft3-f32"))
                : Map.of("../tiny-llama/base", tiny.resolve("base"), "../tiny-llama/ft1", tiny.resolve("ft1"),
                        "../tiny-llama/ft2", tiny.resolve("ft2"), "../tiny-llama/ft3", tiny.resolve("ft3"));
        return MergeRuns.recipe(dir, name + (bin ? "-bin" : "-st"), body, models);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"dare_ties", "ties", "slerp", "task_arithmetic"})
    void mergeOfBinModelsIsByteIdenticalToTheMergeOfTheSafetensorsOriginals(String name) throws IOException {
        Path st = MergeRuns.merge(dir, recipe(name, false), name + "-st", "--out-shard-size", "100KB");
        Path bin = MergeRuns.merge(dir, recipe(name, true), name + "-bin", "--out-shard-size", "100KB");
        List<String> files = modelFiles(st);
        assertTrue(files.size() >= 3, files.toString()); // shards, index, config
        assertEquals(files, modelFiles(bin));
        for (String f : files) {
            assertArrayEquals(Files.readAllBytes(st.resolve(f)), Files.readAllBytes(bin.resolve(f)), name + ": " + f);
        }
    }

    /** Everything but the model card and recipe copy, which name the input paths, and the manifest, which lists their sizes. */
    static List<String> modelFiles(Path out) throws IOException {
        try (Stream<Path> s = Files.list(out)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(f -> !f.equals("README.md") && !f.equals(ModelCard.RECIPE_FILE)
                            && !f.equals(io.mergestream.format.OutputManifest.FILE)).sorted().toList();
        }
    }

    @Test
    void aStridedTensorStopsTheMergeWithOneLineAndNoOutput() throws IOException {
        Path r = MergeRuns.recipe(dir, "strided", """
                merge_method: task_arithmetic
                base_model: BASE
                models:
                  - model: STRIDED
                    parameters: {weight: 0.5}
                dtype: bfloat16
                """, Map.of("BASE", FIXTURES.resolve("base"), "STRIDED", FIXTURES.resolve("ft1-strided")));
        Path out = dir.resolve("strided-out");
        PrintStream previous = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = Main.run("merge", r.toString(), "-o", out.toString(), "-q");
        } finally {
            System.setErr(previous);
        }
        String msg = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(2, code, msg);
        assertFalse(msg.contains("\n") || msg.contains("Exception"), msg);
        assertTrue(msg.contains("ft1-strided") && msg.contains("tensor 'model.layers.0.mlp.down_proj.weight'")
                && msg.contains("non-contiguous"), msg);
        assertFalse(Files.exists(out), "a failed merge left " + out);
    }
}
