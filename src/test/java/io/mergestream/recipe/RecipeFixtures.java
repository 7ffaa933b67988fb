package io.mergestream.recipe;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Loads the sample recipes under src/test/resources/io/mergestream/recipe. */
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
}
