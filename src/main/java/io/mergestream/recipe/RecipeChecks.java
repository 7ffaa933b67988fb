package io.mergestream.recipe;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The rules that span several keys and need no checkpoint: a base model where the method needs one, no model
 * listed twice, as many models as the method merges, every required parameter given, (linear) no weights
 * summing to zero, and for {@code slices:} sources of equal length that include the base where it is needed.
 * A group is the {@code models:} list or one slice's sources; each is checked on its own.
 */
final class RecipeChecks {

    private RecipeChecks() {}

    static void check(Recipe recipe, RecipeErrors errors) {
        MethodSpec method = recipe.method();
        if (method.requiresBase() && recipe.baseModel().isEmpty()) {
            throw errors.at(KeyPath.root().key("base_model"), "missing: " + method.name() + (method.needsBase()
                    ? " merges the models' differences from a base model" : " takes the base model as an input"));
        }
        checkRequiredMergeParameters(recipe, errors);
        if (recipe.slices().isEmpty()) {
            checkGroup(recipe, recipe.models(), KeyPath.root().key("models"), errors);
        } else {
            for (int i = 0; i < recipe.slices().size(); i++) {
                KeyPath sources = KeyPath.root().key("slices").index(i).key("sources");
                checkSlice(recipe, recipe.slices().get(i), sources, errors);
                checkGroup(recipe, recipe.slices().get(i).entries(), sources, errors);
            }
        }
        if (isTensorIndependent(recipe)) {
            // otherwise the sum depends on the tensor, and the planner checks it per tensor
            for (List<ModelEntry> group : recipe.groups()) recipe.checkLinearDivisor(recipe.mergedModels(group), "", 0);
        }
    }

    private static void checkGroup(Recipe recipe, List<ModelEntry> group, KeyPath path, RecipeErrors errors) {
        MethodSpec method = recipe.method();
        checkNoDuplicates(group, path, errors);
        if (method.separatesBase()) checkBaseHasNoParameters(recipe, group, errors);
        List<ModelEntry> merged = recipe.mergedModels(group);
        boolean baseApart = method.separatesBase() && recipe.baseModel().isPresent();
        int inputs = merged.size() + (baseApart ? 1 : 0);
        if (method.loneInputAllowed() && inputs == 1) return; // as mergekit, a lone input is the output
        if (merged.isEmpty()) throw errors.at(path, "lists only the base model: add the models to merge");
        if (merged.size() < method.minModels() || merged.size() > method.maxModels()) {
            String count = method.minModels() == method.maxModels() ? "exactly " + method.minModels()
                    : "at least " + method.minModels();
            throw errors.at(path, method.name() + " merges " + count + (count.endsWith(" 1") ? " model" : " models")
                    + (baseApart ? " besides the base model" : "") + ", not " + merged.size()
                    + (method.loneInputAllowed() ? " (or a single model, which is returned as it is)" : ""));
        }
        for (ParameterDef p : method.modelParameters()) {
            if (!p.isRequired()) continue;
            for (ModelEntry m : merged) {
                if (m.parameters().get(p.name()).isEmpty() && recipe.parameters().get(p.name()).isEmpty()) {
                    throw errors.at(new KeyPath(m.parameters().keyPath()).key(p.name()), "missing: model '" + m.model()
                            + "' needs a " + p.name() + " (or set one in the top-level parameters)");
                }
            }
        }
    }

    /** mergekit reads merge-wide parameters such as slerp's {@code t} only from the top-level block. */
    private static void checkRequiredMergeParameters(Recipe recipe, RecipeErrors errors) {
        for (ParameterDef p : recipe.method().mergeParameters()) {
            if (p.isRequired() && recipe.parameters().get(p.name()).isEmpty()) {
                throw errors.at(new KeyPath(recipe.parameters().keyPath()).key(p.name()), "missing: "
                        + recipe.method().name() + " needs " + p.name() + " in the top-level parameters");
            }
        }
    }

    /** Sources of one slice give the same number of layers; methods with a base need its layers in every slice. */
    private static void checkSlice(Recipe recipe, OutputSlice slice, KeyPath path, RecipeErrors errors) {
        int layers = slice.layers();
        for (int j = 0; j < slice.sources().size(); j++) {
            if (slice.sources().get(j).layers() != layers) {
                throw errors.at(path.index(j).key("layer_range"), "spans " + slice.sources().get(j).layers()
                        + " layers but " + path.index(0).key("layer_range") + " spans " + layers
                        + " (all sources of a slice give the same number of layers)");
            }
        }
        boolean needsBaseLayers = recipe.method().requiresBase()
                || (recipe.method().separatesBase() && recipe.baseModel().isPresent());
        if (needsBaseLayers && slice.entries().stream().noneMatch(recipe::isBase)) {
            throw errors.at(path, "has no source from base_model '" + recipe.baseModel().orElseThrow() + "' ("
                    + recipe.method().name() + " needs the base model's layers in every slice)");
        }
    }

    private static void checkNoDuplicates(List<ModelEntry> models, KeyPath path, RecipeErrors errors) {
        Map<String, Integer> firstIndex = new HashMap<>();
        for (int i = 0; i < models.size(); i++) {
            Integer earlier = firstIndex.putIfAbsent(models.get(i).model(), i);
            if (earlier != null) {
                throw errors.at(path.index(i), "'" + models.get(i).model()
                        + "' is listed twice (also " + path.index(earlier) + ")");
            }
        }
    }

    /** mergekit ignores them: the base is the reference the deltas are taken from, it gets no weight. */
    private static void checkBaseHasNoParameters(Recipe recipe, List<ModelEntry> group, RecipeErrors errors) {
        for (ModelEntry m : group) {
            if (recipe.isBase(m) && !m.parameters().isEmpty()) {
                throw errors.at(new KeyPath(m.parameters().keyPath()), "the base model's parameters have no effect with "
                        + recipe.method().name() + " (" + (recipe.method().needsBase()
                        ? "deltas are taken from it" : "it is an input of its own") + "): remove them");
            }
        }
    }

    private static boolean isTensorIndependent(Recipe recipe) {
        if (!isUniform(recipe.parameters().get("normalize"))) return false;
        if (!isUniform(recipe.parameters().get("weight"))) return false;
        return recipe.groups().stream().flatMap(List::stream).allMatch(m -> isUniform(m.parameters().get("weight")));
    }

    private static boolean isUniform(Optional<Setting> setting) {
        return setting.isEmpty() || setting.get() instanceof Setting.Scalar || setting.get() instanceof Setting.Flag;
    }
}
