package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.Json;
import io.mergestream.recipe.OutputSlice;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.recipe.Recipe;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Runs every recipe in testdata/recipes on the bundled families: each must merge, give the base's tensors
 * (less excluded ones the base lacks) in the recipe's dtype, and differ from the base where it merges.
 * A recipe with {@code slices:} gives its own set of layers instead: the reference's tensors outside the
 * layers, and each reference layer's tensors once per output layer, with config.json's layer count.
 */
class BundledRecipesTest {

    static Stream<Path> recipes() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("testdata/recipes"))) {
            return s.filter(p -> p.toString().endsWith(".yml")).sorted().toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("recipes")
    void merges(Path recipeFile, @TempDir Path tmp) {
        Path out = tmp.resolve("out");
        assertEquals(0, Main.run("merge", recipeFile.toString(), "-o", out.toString(), "-q"));
        Recipe recipe = Recipe.load(recipeFile);
        if (!recipe.slices().isEmpty()) {
            checkStacked(recipe, out);
            return;
        }
        Path reference = recipe.resolveModelPath(recipe.baseModel().orElse(recipe.models().get(0).model()));
        try (Checkpoint merged = Checkpoint.open(out); Checkpoint ref = Checkpoint.open(reference)) {
            assertEquals(ref.tensorCount(), merged.tensorCount(), "tensor count");
            int differing = 0;
            for (StoredTensor t : ref.tensors()) {
                StoredTensor m = merged.tensor(t.name());
                DType expected = recipe.outDtype().or(recipe::dtype).orElse(t.info().dtype());
                assertEquals(expected, m.info().dtype(), t.name());
                if (expected == t.info().dtype() && m.data().mismatch(t.data()) >= 0) differing++;
            }
            if (recipe.outDtype().isEmpty()) assertTrue(differing > ref.tensorCount() / 2, "merged tensors differ from the reference model");
            assertNull(merged.tensor("classifier.weight"), "task heads are excluded and the base has none");
        }
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
        assertTrue(Files.isRegularFile(out.resolve(ModelCard.RECIPE_FILE)));
    }

    private static void checkStacked(Recipe recipe, Path out) {
        int layers = recipe.slices().stream().mapToInt(OutputSlice::layers).sum();
        Path reference = recipe.resolveModelPath(recipe.slices().get(0).sources().get(0).model());
        try (Checkpoint merged = Checkpoint.open(out); Checkpoint ref = Checkpoint.open(reference)) {
            Set<String> expected = new TreeSet<>();
            for (StoredTensor t : ref.tensors()) {
                OptionalInt layer = ParameterResolver.layerIndex(t.name());
                if (layer.isEmpty()) expected.add(t.name());
                else if (layer.getAsInt() == 0) {
                    for (int l = 0; l < layers; l++) expected.add(ParameterResolver.withLayerIndex(t.name(), l));
                }
            }
            Set<String> actual = new TreeSet<>();
            for (StoredTensor t : merged.tensors()) actual.add(t.name());
            assertEquals(expected, actual);
        }
        assertEquals(layers, Json.read(out.resolve("config.json")).get("num_hidden_layers").asInt());
    }
}
