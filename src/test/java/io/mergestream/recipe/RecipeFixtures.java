package io.mergestream.recipe;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** Loads the sample recipes under src/test/resources/io/mergestream/recipe, and checks recipe errors. */
final class RecipeFixtures {
    private RecipeFixtures() {}

    static Path resource(String name) {
        try {
            return Path.of(RecipeFixtures.class.getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Recipe load(String name) {
        return Recipe.load(resource(name));
    }

    static Recipe parse(String yaml) {
        return Recipe.parse(yaml, Path.of("recipe.yml"));
    }

    /**
     * Asserts that {@code yaml} is rejected with one line that starts with the file and {@code keyPath} and
     * mentions every {@code problem} word.
     */
    static void assertError(String yaml, String keyPath, String... problem) {
        var e = assertThrows(MergestreamException.class, () -> parse(yaml));
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.startsWith("recipe.yml: " + keyPath), "names " + keyPath + ": " + m);
        for (String p : problem) assertTrue(m.contains(p), "mentions '" + p + "': " + m);
    }
}
