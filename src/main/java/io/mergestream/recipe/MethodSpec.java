package io.mergestream.recipe;

import io.mergestream.method.MergeMethod;
import io.mergestream.method.Sparsification;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A supported merge method as the recipe sees it: which parameters it takes where, and the facts the
 * planner needs to pick kernel steps.
 *
 * <p>As in mergekit, a per-model parameter ({@code weight}, {@code density}) may also be given in the global
 * {@code parameters:} block, where it is the fallback for every model; a merge-wide parameter
 * ({@code normalize}, {@code lambda} ...) is only read from the global block.
 *
 * @param name             as written in {@code merge_method}
 * @param base             what the method does with {@code base_model}
 * @param sparsification   what each delta goes through before weighting
 * @param signConsensus    true for the TIES-style sign election
 * @param modelParameters  parameters resolved per model (and per tensor)
 * @param mergeParameters  parameters resolved once per tensor for the whole merge
 * @param minModels        the fewest merged models (see {@link Recipe#mergedModels()})
 * @param maxModels        the most merged models
 * @param loneInputAllowed true if a recipe whose only input is one model (the base counted) is valid and
 *                         gives that model, as mergekit's spherical and reference methods return a lone tensor
 * @param implementation   what runs it; its {@link MergeMethod#name()} is {@code name}
 */
public record MethodSpec(
        String name,
        BaseUse base,
        Sparsification sparsification,
        boolean signConsensus,
        List<ParameterDef> modelParameters,
        List<ParameterDef> mergeParameters,
        int minModels,
        int maxModels,
        boolean loneInputAllowed,
        MergeMethod implementation) {

    /** What a method does with {@code base_model}. */
    public enum BaseUse {
        /** Required; the method merges the other models' differences from it (the task-arithmetic family). */
        DELTAS,
        /** Required; an input of its own, distinct from the merged models (slerp, nearswap, model_stock). */
        REFERENCE,
        /** Optional; when given, the other models' differences from it are merged (nuslerp, multislerp). */
        OPTIONAL_DELTAS,
        /** Averaged like any other model; added to the merged models when not listed (karcher, passthrough). */
        MERGED,
        /** Only the listed models are merged; a listed base counts like any other model (linear). */
        LISTED_ONLY
    }

    public MethodSpec {
        if (!implementation.name().equals(name)) {
            throw new IllegalArgumentException("method " + name + " implemented by " + implementation.name());
        }
        modelParameters = List.copyOf(modelParameters);
        mergeParameters = List.copyOf(mergeParameters);
    }

    /** A method of the task-arithmetic family: merges deltas from a required base, with short models allowed. */
    public boolean needsBase() {
        return base == BaseUse.DELTAS;
    }

    /** True if the recipe must name a {@code base_model}. */
    public boolean requiresBase() {
        return base == BaseUse.DELTAS || base == BaseUse.REFERENCE;
    }

    /** True if {@code base_model} is not among the merged models (it is a reference, or absent). */
    public boolean separatesBase() {
        return base == BaseUse.DELTAS || base == BaseUse.REFERENCE || base == BaseUse.OPTIONAL_DELTAS;
    }

    public Optional<ParameterDef> parameter(String name) {
        return allParameters().filter(p -> p.name().equals(name)).findFirst();
    }

    public boolean isModelParameter(String name) {
        return modelParameters.stream().anyMatch(p -> p.name().equals(name));
    }

    /** Names allowed in a model's {@code parameters:} block. */
    public List<String> modelParameterNames() {
        return modelParameters.stream().map(ParameterDef::name).toList();
    }

    /** Names allowed in the global {@code parameters:} block: every parameter. */
    public List<String> allParameterNames() {
        return allParameters().map(ParameterDef::name).toList();
    }

    private Stream<ParameterDef> allParameters() {
        return Stream.concat(modelParameters.stream(), mergeParameters.stream());
    }
}
