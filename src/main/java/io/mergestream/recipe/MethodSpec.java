package io.mergestream.recipe;

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
 * @param needsBase        true for the task-arithmetic family, which works on deltas from {@code base_model}
 * @param sparsification   what each delta goes through before weighting
 * @param signConsensus    true for the TIES-style sign election
 * @param modelParameters  parameters resolved per model (and per tensor)
 * @param mergeParameters  parameters resolved once per tensor for the whole merge
 */
public record MethodSpec(
        String name,
        boolean needsBase,
        Sparsification sparsification,
        boolean signConsensus,
        List<ParameterDef> modelParameters,
        List<ParameterDef> mergeParameters) {

    /** The sparsifier applied to each delta (merge-semantics.md, "Sparsifiers"). */
    public enum Sparsification { NONE, RANDOM, MAGNITUDE, MAGNITUDE_OUTLIERS, DELLA_MAGPRUNE }

    public MethodSpec {
        modelParameters = List.copyOf(modelParameters);
        mergeParameters = List.copyOf(mergeParameters);
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
