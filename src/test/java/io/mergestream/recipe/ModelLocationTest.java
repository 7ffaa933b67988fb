package io.mergestream.recipe;

import io.mergestream.MergestreamException;
import io.mergestream.format.HubCache;
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
        assertEquals(cwd.resolve("nowhere"), recipeIn(tmp).resolveModelPath("nowhere", cwd, new HubCache(tmp.resolve("hub"))));
    }

    @Test
    void absolutePathsStayAsTheyAre() {
        assertEquals(tmp.resolve("x"), recipeIn(tmp).resolveModelPath(tmp.resolve("x").toString(), tmp.resolve("cwd")));
    }

    @Test
    void hubIdsResolveFromTheCacheAfterLocalPaths() throws IOException {
        Path cwd = Files.createDirectories(tmp.resolve("cwd"));
        Path recipeDir = Files.createDirectories(tmp.resolve("recipes"));
        HubCache cache = new HubCache(tmp.resolve("hub"));
        String commit = "89abcdef0123456789abcdef0123456789abcdef";
        Path snapshot = Files.createDirectories(cache.root().resolve("models--mistralai--Mistral-7B-v0.1/snapshots/" + commit));
        Files.writeString(Files.createDirectories(cache.root().resolve("models--mistralai--Mistral-7B-v0.1/refs")).resolve("main"),
                commit);
        Recipe r = recipeIn(recipeDir);
        assertEquals(snapshot, r.resolveModelPath("mistralai/Mistral-7B-v0.1", cwd, cache));
        assertEquals(snapshot, r.resolveModelPath("mistralai/Mistral-7B-v0.1@main", cwd, cache));
        assertEquals(snapshot, r.resolveModelPath("mistralai/Mistral-7B-v0.1@" + commit, cwd, cache));
        // not in the cache: the current-directory path, and locateModel says what to download
        assertEquals(cwd.resolve("google-bert/bert-base-uncased"), r.resolveModelPath("google-bert/bert-base-uncased", cwd, cache));
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> r.locateModel("google-bert/bert-base-uncased", cwd, cache));
        assertTrue(e.getMessage().startsWith(recipeDir.resolve("recipe.yml") + ": model 'google-bert/bert-base-uncased': not found")
                && e.getMessage().endsWith("`hf download google-bert/bert-base-uncased`"), e.getMessage());
        // a local directory of that name wins, from the recipe's directory too
        Path local = Files.createDirectories(recipeDir.resolve("mistralai/Mistral-7B-v0.1"));
        assertEquals(local, r.resolveModelPath("mistralai/Mistral-7B-v0.1", cwd, cache));
    }
}
