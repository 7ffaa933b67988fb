package io.mergestream.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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

    /** The warnings {@code action} reports, in order; the previous listener is restored afterwards. */
    static List<String> warningsOf(Runnable action) {
        List<String> warnings = new ArrayList<>();
        Warnings.Listener previous = Warnings.set(warnings::add);
        try {
            action.run();
        } finally {
            Warnings.set(previous);
        }
        return warnings;
    }

    /** The warnings parsing {@code yaml} (not strict) reports. */
    static List<String> warnings(String yaml) {
        return warningsOf(() -> parse(yaml));
    }

    /**
     * Asserts that {@code yaml} parses with exactly one warning, one line naming the file and {@code keyPath} and
     * mentioning every {@code problem} word; and that with {@code strict} the same text is the error.
     */
    static void assertWarning(String yaml, String keyPath, String... problem) {
        List<String> warnings = warnings(yaml);
        assertEquals(1, warnings.size(), "one warning: " + warnings);
        String w = warnings.get(0);
        assertFalse(w.contains("\n"), "one line: " + w);
        assertTrue(w.startsWith("recipe.yml: " + keyPath), "names " + keyPath + ": " + w);
        for (String p : problem) assertTrue(w.contains(p), "mentions '" + p + "': " + w);
        var e = assertThrows(MergestreamException.class, () -> Recipe.parse(yaml, Path.of("recipe.yml"), true));
        assertEquals(w, e.getMessage(), "--strict makes the warning an error with the same text");
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
