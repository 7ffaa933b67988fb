package io.mergestream.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mergestream.TestFiles;
import io.mergestream.recipe.Recipe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link MergePlan#inputPaths()} names everything a run reads, so that none of it can become the output. */
class InputPathsTest {

    @TempDir
    Path dir;

    private Path copy(String model) throws IOException {
        return TestFiles.copyModel("testdata/tiny-llama/" + model, dir.resolve(model));
    }

    @Test
    void theModelsTheTokenizerSourceTheTokenSourcesAndTheRecipe() throws IOException {
        Path base = copy("base");
        Path ft1 = copy("ft1");
        Path ft3 = copy("ft3");
        Path tok = copy("ft2"); // read for its tokenizer files only, never merged
        Path recipeFile = dir.resolve("recipes/r.yml");
        Files.createDirectories(recipeFile.getParent());
        Files.writeString(recipeFile, "merge_method: task_arithmetic\nbase_model: " + base + "\nmodels:\n"
                + "  - model: " + ft1 + "\n    parameters: {weight: 0.5}\n"
                + "  - model: " + ft3 + "\n    parameters: {weight: 0.5}\n"
                + "tokenizer:\n  source: " + tok + "\n  tokens:\n    \"</s>\": {source: " + ft3 + ", force: true}\n");
        try (MergePlan plan = Planner.plan(Recipe.load(recipeFile), 0)) {
            assertEquals(Set.of(base, ft1, ft3, tok, recipeFile), Set.copyOf(plan.inputPaths()));
        }
    }

    @Test
    void aModelGivenAsAFileIsProtectedWithItsDirectory() throws IOException {
        Path base = copy("base");
        Path ft1 = copy("ft1");
        Path recipeFile = dir.resolve("r.yml");
        Files.writeString(recipeFile, "merge_method: task_arithmetic\nbase_model: " + base + "\nmodels:\n"
                + "  - model: " + ft1.resolve("model.safetensors") + "\n    parameters: {weight: 1}\n");
        try (MergePlan plan = Planner.plan(Recipe.load(recipeFile), 0)) {
            List<Path> paths = plan.inputPaths();
            assertEquals(Set.of(base, ft1.resolve("model.safetensors"), ft1, recipeFile), Set.copyOf(paths));
        }
    }
}
