package io.mergestream.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.cli.Main;
import io.mergestream.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import io.mergestream.format.HubCache;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Errors only the planner can find (they need the checkpoints): each is one line naming the recipe, the
 * model and the tensor, exit code 2, and no output directory.
 */
class PlanErrorTest {

    @TempDir
    Path dir;

    Path base;
    Path ft;

    static TestModels.Model llama(int vocab, int hidden) {
        return new TestModels.Model()
                .put("model.embed_tokens.weight", new long[] {vocab, hidden}, new float[vocab * hidden])
                .put("model.layers.0.mlp.up_proj.weight", new long[] {hidden, hidden}, new float[hidden * hidden])
                .put("model.norm.weight", new long[] {hidden}, new float[hidden]);
    }

    @BeforeEach
    void models() {
        base = TestModels.write(dir.resolve("base"), DType.BF16, llama(8, 4));
        ft = TestModels.write(dir.resolve("ft"), DType.BF16, llama(8, 4));
    }

    String runExpectingFailure(String recipeBody) throws IOException {
        Path recipe = dir.resolve("r.yml");
        Files.writeString(recipe, recipeBody.replace("BASE", base.toString()).replace("FT", ft.toString()));
        Path out = dir.resolve("out");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        // picocli prints errors on its own err writer, which is bound to System.err when the command line is made
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = Main.run("merge", recipe.toString(), "-o", out.toString(), "-q");
        } finally {
            System.setErr(old);
        }
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(2, code, message);
        assertFalse(Files.exists(out), "no output is written");
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".partial-")), "no staging left");
        }
        assertEquals(1, message.lines().count(), "one line: " + message);
        assertTrue(message.contains("r.yml"), message);
        return message;
    }

    static final String DARE = """
            merge_method: dare_ties
            base_model: BASE
            models:
              - model: FT
                parameters: {weight: 1, density: 0.5}
            """;

    @Test
    void modelDirectoryNotFound() throws IOException {
        String m = runExpectingFailure(DARE.replace("model: FT", "model: " + dir.resolve("nowhere")));
        assertTrue(m.contains("nowhere") && m.contains("not found"), m);
    }

    @Test
    void hubNameSaysDownloadFirst() throws IOException {
        // an empty cache of the test's own: never the user's ~/.cache
        HubCache previous = HubCache.setCurrent(new HubCache(dir.resolve("empty-hub-cache")));
        try {
            String m = runExpectingFailure(DARE.replace("model: FT", "model: WizardLMTeam/WizardMath-7B-V1.0"));
            assertTrue(m.contains("model 'WizardLMTeam/WizardMath-7B-V1.0'") && m.contains("not in the Hugging Face cache")
                    && m.contains("download it first with `hf download WizardLMTeam/WizardMath-7B-V1.0`"), m);
        } finally {
            HubCache.setCurrent(previous);
        }
    }

    @Test
    void tensorMissingFromAFineTune() throws IOException {
        TestModels.Model partial = new TestModels.Model()
                .put("model.embed_tokens.weight", new long[] {8, 4}, new float[32])
                .put("model.norm.weight", new long[] {4}, new float[4]);
        ft = TestModels.write(dir.resolve("ft-partial"), DType.BF16, partial);
        String m = runExpectingFailure(DARE);
        assertTrue(m.contains("has no tensor 'model.layers.0.mlp.up_proj.weight'") && m.contains("exclude"), m);
    }

    @Test
    void shapeMismatch() throws IOException {
        ft = TestModels.write(dir.resolve("ft-wide"), DType.BF16, llama(8, 5).put("model.layers.0.mlp.up_proj.weight",
                new long[] {4, 5}, new float[20]));
        String m = runExpectingFailure(DARE);
        assertTrue(m.contains("model.embed_tokens.weight") && m.contains("[8, 5]") && m.contains("[8, 4]"), m);
    }

    @Test
    void fineTuneTensorMissingFromTheBase() throws IOException {
        ft = TestModels.write(dir.resolve("ft-head"), DType.BF16, llama(8, 4)
                .put("classifier.weight", new long[] {2, 4}, new float[8]));
        String m = runExpectingFailure(DARE);
        assertTrue(m.contains("classifier.weight") && m.contains("missing from the base") && m.contains("exclude"), m);
    }

    @Test
    void excludedTensorsAreNotErrors() throws IOException {
        ft = TestModels.write(dir.resolve("ft-head2"), DType.BF16, llama(8, 4)
                .put("classifier.weight", new long[] {2, 4}, new float[8]));
        Path recipe = dir.resolve("ok.yml");
        Files.writeString(recipe, (DARE + "exclude: ['classifier\\.']\n").replace("BASE", base.toString())
                .replace("FT", ft.toString()));
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", dir.resolve("ok").toString(), "-q"));
        assertTrue(Files.exists(dir.resolve("ok/model.safetensors")));
    }

    @Test
    void outputInsideAnInputModel() throws IOException {
        Path recipe = dir.resolve("r.yml");
        Files.writeString(recipe, DARE.replace("BASE", base.toString()).replace("FT", ft.toString()));
        int code = Main.run("merge", recipe.toString(), "-o", ft.resolve("merged").toString(), "-q");
        assertEquals(2, code);
        assertFalse(Files.exists(ft.resolve("merged")));
    }

    @Test
    void aNonEmptyOutputIsNeverWipedAndForceReplacesOnlyAnEarlierOutput() throws IOException {
        Path recipe = dir.resolve("r.yml");
        Files.writeString(recipe, DARE.replace("BASE", base.toString()).replace("FT", ft.toString()));
        Path out = Files.createDirectories(dir.resolve("taken"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        assertEquals(2, Main.run("merge", recipe.toString(), "-o", out.toString(), "-q"));
        assertEquals(2, Main.run("merge", recipe.toString(), "-o", out.toString(), "-q", "--force"),
                "not a mergestream output: --force does not apply");
        assertEquals(List.of("keep.txt"), names(out));
        Path earlier = dir.resolve("earlier");
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", earlier.toString(), "-q"));
        Files.writeString(earlier.resolve("keep.txt"), "mine");
        assertEquals(2, Main.run("merge", recipe.toString(), "-o", earlier.toString(), "-q"));
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", earlier.toString(), "-q", "--force"));
        assertEquals("mine", Files.readString(earlier.resolve("keep.txt")), "the user's file beside the output stays");
        assertTrue(Files.exists(earlier.resolve("model.safetensors")));
    }

    private static List<String> names(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void vocabularyMergeWithSlicesIsNotSupportedYet() throws IOException {
        String m = runExpectingFailure("""
                merge_method: passthrough
                tokenizer_source: union
                slices:
                  - sources:
                      - model: FT
                        layer_range: [0, 1]
                """);
        assertTrue(m.contains("tokenizer_source") && m.contains("slices") && m.contains("not supported yet"), m);
    }
}
