package io.mergestream.recipe;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The rules that span several keys and need no checkpoint: a base model where the method needs one, no model
 * listed twice, a weight for every model that is merged, and (linear) no weights summing to zero.
 */
final class RecipeChecks {

    private RecipeChecks() {}

    static void check(Recipe recipe, RecipeErrors errors) {
        MethodSpec method = recipe.method();
        if (method.needsBase() && recipe.baseModel().isEmpty()) {
            throw errors.at(KeyPath.root().key("base_model"),
                    "missing: " + method.name() + " merges the models' differences from a base model");
        }
        checkNoDuplicates(recipe.models(), errors);
        if (method.needsBase()) checkBaseHasNoParameters(recipe, errors);
        List<ModelEntry> merged = recipe.mergedModels();
        if (merged.isEmpty()) {
            throw errors.at(KeyPath.root().key("models"), "lists only the base model: add the models to merge");
        }
        for (ModelEntry m : merged) {
            if (method.parameter("weight").isPresent() && m.parameters().get("weight").isEmpty() && recipe.parameters().get("weight").isEmpty()) {
                throw errors.at(new KeyPath(m.parameters().keyPath()).key("weight"),
                        "missing: model '" + m.model() + "' needs a weight (or set one in the top-level parameters)");
            }
        }
        if (isTensorIndependent(recipe)) {
            // otherwise the sum depends on the tensor, and the planner checks it per tensor
            recipe.checkLinearDivisor("", OptionalInt.empty(), 1);
        }
    }

    private static void checkNoDuplicates(List<ModelEntry> models, RecipeErrors errors) {
        Map<String, Integer> firstIndex = new HashMap<>();
        for (int i = 0; i < models.size(); i++) {
            Integer earlier = firstIndex.putIfAbsent(models.get(i).model(), i);
            if (earlier != null) {
                throw errors.at(KeyPath.root().key("models").index(i), "'" + models.get(i).model()
                        + "' is listed twice (also models[" + earlier + "])");
            }
        }
    }

    /** mergekit ignores them: the base is the reference the deltas are taken from, it gets no weight. */
    private static void checkBaseHasNoParameters(Recipe recipe, RecipeErrors errors) {
        for (ModelEntry m : recipe.models()) {
            if (recipe.isBase(m) && !m.parameters().isEmpty()) {
                throw errors.at(new KeyPath(m.parameters().keyPath()), "the base model's parameters have no effect with "
                        + recipe.method().name() + " (deltas are taken from it): remove them");
            }
        }
    }

    private static boolean isTensorIndependent(Recipe recipe) {
        if (!isUniform(recipe.parameters().get("normalize"))) return false;
        if (!isUniform(recipe.parameters().get("weight"))) return false;
        return recipe.mergedModels().stream().allMatch(m -> isUniform(m.parameters().get("weight")));
    }

    private static boolean isUniform(Optional<Setting> setting) {
        return setting.isEmpty() || setting.get() instanceof Setting.Scalar || setting.get() instanceof Setting.Flag;
    }
}
