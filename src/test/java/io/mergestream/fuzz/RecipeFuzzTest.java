package io.mergestream.fuzz;

import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.recipe.ModelEntry;
import io.mergestream.recipe.OutputSlice;
import io.mergestream.recipe.Recipe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz target for the recipe parser ({@link Recipe#parse}: mergekit YAML, validated key by key). Corpus: the
 * recipes of {@code testdata/recipes/} and a few of mergekit's own ({@code ../shared/fixtures/mergekit-golden}).
 */
class RecipeFuzzTest {

    private static final Path FILE = Path.of("fuzz-recipe.yml");

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzRecipe(byte[] input) {
        String yaml = new String(input, StandardCharsets.UTF_8);
        FuzzSupport.refusedOr(() -> {
            Recipe r = Recipe.parse(yaml, FILE);
            check(r.yaml().equals(yaml), "the recipe text is not kept as read");
            check(r.models().isEmpty() != r.slices().isEmpty(), "a recipe needs models or slices, not both, not neither: "
                    + r.models().size() + " models, " + r.slices().size() + " slices");
            check(r.method() != null && !r.methodName().isBlank(), "no merge method");
            List<ModelEntry> all = new ArrayList<>(r.models());
            for (OutputSlice s : r.slices()) {
                check(!s.sources().isEmpty(), s.keyPath() + " has no sources");
                for (OutputSlice.Source src : s.sources()) {
                    check(src.from() >= 0 && src.to() > src.from(), s.keyPath() + ": layers [" + src.from() + ", "
                            + src.to() + ") of " + src.model());
                    check(src.layers() == s.layers(), s.keyPath() + ": sources of different lengths");
                    all.add(src.entry());
                }
            }
            // a '+' is legal: mergekit's BASE+ADAPTER (a LoRA over its base), kept as written and resolved where
            // models are opened (plan.Planner.open), so references are only checked to be non-blank
            r.baseModel().ifPresent(b -> check(!b.isBlank(), "base_model '" + b + "'"));
            for (ModelEntry m : all) {
                check(m.model() != null && !m.model().isBlank(), "model '" + m.model() + "'");
                r.parametersFor(m);
                if (planted("recipe") && m.model().contains(" ")) {
                    // stands in for code that splits a model reference at whitespace
                    throw new FuzzSupport.PlantedBug("model '" + m.model() + "' holds a space");
                }
            }
            if (r.models().isEmpty() == false) {
                List<ModelEntry> fineTunes = r.fineTunes();
                Set<ModelEntry> seen = new HashSet<>();
                for (int i = 0; i < fineTunes.size(); i++) {
                    if (seen.add(fineTunes.get(i))) {
                        check(r.fineTuneIndex(fineTunes.get(i)) == i, "fine-tune ordinal of " + fineTunes.get(i).model());
                    }
                }
                r.mergedModels();
            }
            r.groups();
            r.mergeParameters();
            r.vocabularyMerge();
            r.isExcluded("model.layers.0.self_attn.q_proj.weight");
            check(r.seed() == r.seed(), "seed");
        });
    }
}
