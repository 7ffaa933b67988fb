package io.mergestream.recipe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class ModelLocationTest {

    @TempDir
    Path tmp;

    private Recipe recipeIn(Path dir) {
        return Recipe.parse("merge_method: linear\nmodels: [{model: m, parameters: {weight: 1}}]\n",
                dir.resolve("recipe.yml"));
    }

    @Test
    void relativePathsPreferTheCurrentDirectory() throws IOException {
        Path cwd = Files.createDirectories(tmp.resolve("cwd"));
        Path recipeDir = Files.createDirectories(tmp.resolve("recipes"));
        Files.createDirectories(cwd.resolve("models/a"));
        Files.createDirectories(recipeDir.resolve("models/a"));
        assertEquals(cwd.resolve("models/a"), recipeIn(recipeDir).resolveModelPath("models/a", cwd));
    }

    @Test
    void relativePathsFallBackToTheRecipesDirectory() throws IOException {
        Path cwd = Files.createDirectories(tmp.resolve("cwd"));
        Path recipeDir = Files.createDirectories(tmp.resolve("recipes"));
        Files.createDirectories(recipeDir.resolve("models/a"));
        assertEquals(recipeDir.resolve("models/a"), recipeIn(recipeDir).resolveModelPath("./models/a", cwd));
    }

    @Test
    void missingPathsResolveAgainstTheCurrentDirectory() throws IOException {
        Path cwd = Files.createDirectories(tmp.resolve("cwd"));
        assertEquals(cwd.resolve("nowhere"), recipeIn(tmp).resolveModelPath("nowhere", cwd));
    }

    @Test
    void absolutePathsStayAsTheyAre() {
        assertEquals(tmp.resolve("x"), recipeIn(tmp).resolveModelPath(tmp.resolve("x").toString(), tmp.resolve("cwd")));
    }

    @Test
    void hubNamesAreOrgSlashNameThatDoNotExistLocally() {
        assertTrue(Recipe.looksLikeHubName("mistralai/Mistral-7B-v0.1"));
        assertTrue(Recipe.looksLikeHubName("google-bert/bert-base-uncased"));
        assertTrue(Recipe.looksLikeHubName("org/name@main"));
        assertFalse(Recipe.looksLikeHubName("./org/name"));
        assertFalse(Recipe.looksLikeHubName("/models/org/name"));
        assertFalse(Recipe.looksLikeHubName("bert-base-uncased"), "no organisation");
        assertFalse(Recipe.looksLikeHubName("a/b/c"));
        assertFalse(Recipe.looksLikeHubName("../name"));
        assertFalse(Recipe.looksLikeHubName("src/main"), "exists in the current directory (the project root)");
    }
}
