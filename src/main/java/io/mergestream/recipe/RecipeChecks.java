package io.mergestream.recipe;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The rules that span several keys and need no checkpoint: a base model where the method needs one, no model
 * listed twice, as many models as the method merges, every required parameter given, (linear, multislerp) no
 * weights summing to zero, and for {@code slices:} sources of equal length that include the base where it is
 * needed. A group is the {@code models:} list or one slice's sources; each is checked on its own, a slice with
 * its own {@code base_model} and {@code parameters} where it has them.
 */
final class RecipeChecks {

    private RecipeChecks() {}

    static void check(Recipe recipe, RecipeErrors errors) {
        if (recipe.slices().isEmpty()) {
            checkBase(recipe, recipe.baseModel(), KeyPath.root().key("base_model"), errors);
            checkRequiredMergeParameters(recipe, List.of(recipe.parameters()), errors);
            checkGroup(recipe, recipe.models(), KeyPath.root().key("models"), recipe.baseModel(), Optional.empty(), errors);
        } else {
            for (int i = 0; i < recipe.slices().size(); i++) {
                OutputSlice slice = recipe.slices().get(i);
                KeyPath sources = KeyPath.root().key("slices").index(i).key("sources");
                boolean someSliceHasOne = recipe.slices().stream().anyMatch(x -> x.baseModel().isPresent());
                checkBase(recipe, recipe.baseModelOf(slice), someSliceHasOne
                        ? KeyPath.root().key("slices").index(i).key("base_model") : KeyPath.root().key("base_model"), errors);
                checkRequiredMergeParameters(recipe, List.of(slice.parameters(), recipe.parameters()), errors);
                checkSlice(recipe, slice, sources, errors);
                checkGroup(recipe, slice.entries(), sources, recipe.baseModelOf(slice), Optional.of(slice), errors);
            }
        }
        if (isTensorIndependent(recipe)) {
            // otherwise the sum depends on the tensor, and the planner checks it per tensor
            if (recipe.slices().isEmpty()) {
                recipe.checkWeightSum(null, recipe.mergedModels(), "", 0);
            } else {
                for (OutputSlice s : recipe.slices()) recipe.checkWeightSum(s, recipe.mergedModels(s.entries()), "", 0);
            }
        }
    }

    private static void checkBase(Recipe recipe, Optional<String> base, KeyPath path, RecipeErrors errors) {
        MethodSpec method = recipe.method();
        if (method.requiresBase() && base.isEmpty()) {
            throw errors.at(path, "missing: " + method.name() + (method.needsBase()
                    ? " merges the models' differences from a base model" : " takes the base model as an input")
                    + (recipe.slices().isEmpty() ? "" : " (give base_model, or a base_model in every slice)"));
        }
    }

    private static void checkGroup(Recipe recipe, List<ModelEntry> group, KeyPath path, Optional<String> base,
                                   Optional<OutputSlice> slice, RecipeErrors errors) {
        MethodSpec method = recipe.method();
        checkNoDuplicates(group, path, errors);
        if (method.separatesBase()) checkBaseHasNoParameters(recipe, group, errors);
        List<ModelEntry> merged = recipe.mergedModels(group);
        boolean baseApart = method.separatesBase() && base.isPresent();
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
            boolean inBlocks = recipe.parameters().get(p.name()).isPresent()
                    || slice.flatMap(s -> s.parameters().get(p.name())).isPresent();
            for (ModelEntry m : merged) {
                if (m.parameters().get(p.name()).isEmpty() && !inBlocks) {
                    throw errors.at(new KeyPath(m.parameters().keyPath()).key(p.name()), "missing: model '" + m.model()
                            + "' needs a " + p.name() + " (or set one in the " + (slice.isPresent() ? "slice's or the " : "")
                            + "top-level parameters)");
                }
            }
        }
    }

    /** mergekit reads merge-wide parameters such as slerp's {@code t} only from the top-level (or a slice's) block. */
    private static void checkRequiredMergeParameters(Recipe recipe, List<Parameters> blocks, RecipeErrors errors) {
        for (ParameterDef p : recipe.method().mergeParameters()) {
            if (p.isRequired() && blocks.stream().allMatch(b -> b.get(p.name()).isEmpty())) {
                throw errors.at(new KeyPath(recipe.parameters().keyPath()).key(p.name()), "missing: "
                        + recipe.method().name() + " needs " + p.name() + " in the top-level parameters"
                        + (blocks.size() > 1 ? " (or in every slice's)" : ""));
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
        Optional<String> base = recipe.baseModelOf(slice);
        boolean needsBaseLayers = recipe.method().requiresBase()
                || (recipe.method().separatesBase() && base.isPresent());
        if (needsBaseLayers && slice.entries().stream().noneMatch(recipe::isBase)) {
            throw errors.at(path, "has no source from base_model '" + base.orElseThrow() + "' ("
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
                errors.warn(new KeyPath(m.parameters().keyPath()), "the base model's parameters have no effect with "
                        + recipe.method().name() + " (" + (recipe.method().needsBase()
                        ? "deltas are taken from it" : "it is an input of its own") + "): ignored, as mergekit ignores them");
            }
        }
    }

    private static boolean isTensorIndependent(Recipe recipe) {
        for (String p : List.of("normalize", "normalize_weights", "weight")) {
            if (!isUniform(recipe.parameters().get(p))) return false;
            for (OutputSlice s : recipe.slices()) if (!isUniform(s.parameters().get(p))) return false;
        }
        return recipe.groups().stream().flatMap(List::stream).allMatch(m -> isUniform(m.parameters().get("weight")));
    }

    private static boolean isUniform(Optional<Setting> setting) {
        return setting.isEmpty() || setting.get() instanceof Setting.Scalar || setting.get() instanceof Setting.Flag;
    }
}
