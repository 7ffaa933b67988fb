package io.mergestream.recipe;

import io.mergestream.recipe.MethodSpec.BaseUse;
import io.mergestream.recipe.MethodSpec.Sparsification;
import io.mergestream.recipe.ParameterDef.NumberRange;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The merge methods mergestream runs, with their parameters and defaults (spec/merge-semantics.md), and the
 * rest of mergekit's catalogue, which is recognised so that users learn it is planned rather than misspelt.
 *
 * <p>Parameters, all as in mergekit unless noted:
 * <ul>
 *   <li>per model: {@code weight} (required), and for the sparsifying methods {@code density} (default 1,
 *       within (0, 1]);</li>
 *   <li>merge-wide: {@code normalize} (linear and ties default true, the others false), {@code lambda}
 *       (default 1, task-arithmetic family), {@code rescale} (dare_*: true, ties: false; {@code rescale: l1}
 *       is recognised but not supported yet), {@code int8_mask} (accepted and ignored: it only changes
 *       mergekit's mask memory, never the result);</li>
 *   <li>{@code sign_election} (ties and dare_ties: {@code weighted_sum} (default), {@code sum} or
 *       {@code count}) is a mergestream name: mergekit has no recipe parameter for the election (its
 *       {@code consensus_method} is fixed per method, and equals {@code weighted_sum}); the name and words
 *       follow merge-semantics.md;</li>
 *   <li>{@code slerp}: {@code t} (required, merge-wide, gradients and filters allowed); {@code nearswap}:
 *       {@code t} (required, &gt; 0); {@code nuslerp}: {@code weight} per model, {@code nuslerp_row_wise}
 *       (false), {@code nuslerp_flatten} (true); {@code multislerp}: {@code weight} per model,
 *       {@code normalize_weights} (true), {@code eps} (1e-8); {@code karcher}: {@code max_iter} (10, truncated
 *       to an integer), {@code tol} (1e-5); {@code model_stock}: {@code filter_wise} (false);
 *       {@code passthrough}: {@code scale} per model (1).</li>
 * </ul>
 * Parameters that a method would ignore (e.g. {@code density} with {@code task_arithmetic}) are rejected as
 * unknown for that method rather than silently dropped.
 */
public final class MethodCatalog {

    private static final ParameterDef WEIGHT = ParameterDef.requiredNumber("weight");
    private static final ParameterDef DENSITY = ParameterDef.number("density", 1.0, NumberRange.DENSITY);
    private static final ParameterDef LAMBDA = ParameterDef.number("lambda", 1.0, NumberRange.FINITE);
    private static final ParameterDef INT8_MASK = ParameterDef.flag("int8_mask", false);
    private static final ParameterDef SIGN_ELECTION =
            ParameterDef.choice("sign_election", "weighted_sum", "weighted_sum", "sum", "count");

    private static ParameterDef normalize(boolean byDefault) {
        return ParameterDef.flag("normalize", byDefault);
    }

    private static ParameterDef rescale(boolean byDefault) {
        return ParameterDef.flag("rescale", byDefault, "l1");
    }

    private static final int ANY = Integer.MAX_VALUE;

    private static final Map<String, MethodSpec> SUPPORTED = index(
            new MethodSpec("linear", BaseUse.LISTED_ONLY, Sparsification.NONE, false,
                    List.of(WEIGHT), List.of(normalize(true)), 1, ANY, false),
            family("task_arithmetic", Sparsification.NONE, false,
                    List.of(WEIGHT), List.of(normalize(false), LAMBDA, INT8_MASK)),
            family("ties", Sparsification.MAGNITUDE, true,
                    List.of(WEIGHT, DENSITY), List.of(normalize(true), rescale(false), LAMBDA, INT8_MASK,
                            SIGN_ELECTION)),
            family("dare_linear", Sparsification.RANDOM, false,
                    List.of(WEIGHT, DENSITY), List.of(normalize(false), rescale(true), LAMBDA, INT8_MASK)),
            family("dare_ties", Sparsification.RANDOM, true,
                    List.of(WEIGHT, DENSITY), List.of(normalize(false), rescale(true), LAMBDA, INT8_MASK,
                            SIGN_ELECTION)),
            other("slerp", BaseUse.REFERENCE, List.of(), List.of(ParameterDef.requiredNumber("t")), 1, 1),
            other("nuslerp", BaseUse.OPTIONAL_DELTAS, List.of(WEIGHT),
                    List.of(ParameterDef.flag("nuslerp_row_wise", false), ParameterDef.flag("nuslerp_flatten", true)),
                    2, 2),
            other("multislerp", BaseUse.OPTIONAL_DELTAS, List.of(WEIGHT),
                    List.of(ParameterDef.flag("normalize_weights", true),
                            ParameterDef.number("eps", 1e-8, NumberRange.POSITIVE)), 1, ANY),
            other("karcher", BaseUse.MERGED, List.of(),
                    List.of(ParameterDef.number("max_iter", 10, NumberRange.NON_NEGATIVE),
                            ParameterDef.number("tol", 1e-5, NumberRange.NON_NEGATIVE)), 1, ANY),
            other("model_stock", BaseUse.REFERENCE, List.of(), List.of(ParameterDef.flag("filter_wise", false)),
                    2, ANY),
            other("nearswap", BaseUse.REFERENCE, List.of(),
                    List.of(ParameterDef.requiredNumber("t", NumberRange.POSITIVE)), 1, 1),
            other("passthrough", BaseUse.MERGED, List.of(ParameterDef.number("scale", 1.0, NumberRange.FINITE)),
                    List.of(), 1, 1));

    /** In merge-semantics.md's catalogue, not implemented yet. */
    private static final List<String> PLANNED = List.of(
            "breadcrumbs", "breadcrumbs_ties", "della", "della_linear", "sce", "ram", "ramplus_tl");

    private static MethodSpec family(String name, Sparsification sparsification, boolean signConsensus,
                                     List<ParameterDef> modelParameters, List<ParameterDef> mergeParameters) {
        return new MethodSpec(name, BaseUse.DELTAS, sparsification, signConsensus, modelParameters, mergeParameters,
                1, ANY, false);
    }

    /** The methods outside the task-arithmetic family: as mergekit, a lone input is returned as it is. */
    private static MethodSpec other(String name, BaseUse base, List<ParameterDef> modelParameters,
                                    List<ParameterDef> mergeParameters, int minModels, int maxModels) {
        return new MethodSpec(name, base, Sparsification.NONE, false, modelParameters, mergeParameters,
                minModels, maxModels, true);
    }

    private MethodCatalog() {}

    public static Optional<MethodSpec> find(String name) {
        return Optional.ofNullable(SUPPORTED.get(name));
    }

    public static List<String> supportedNames() {
        return List.copyOf(SUPPORTED.keySet());
    }

    public static List<String> plannedNames() {
        return PLANNED;
    }

    /**
     * The method's spec, or the problem to report: planned-but-missing and unknown names differ. The problem
     * text names the key itself ("merge_method 'slerp' ..."), so it is reported without a key path prefix.
     */
    static MethodSpec lookup(String name, RecipeErrors errors) {
        return find(name).orElseThrow(() -> PLANNED.contains(name)
                ? errors.at(KeyPath.root(), "merge_method '" + name + "' is not supported yet (supported: "
                        + String.join(", ", supportedNames()) + ")")
                : errors.at(KeyPath.root(), "unknown merge_method '" + name + "' (known: "
                        + String.join(", ", Stream.concat(supportedNames().stream(), PLANNED.stream()).toList())
                        + ")"));
    }

    private static Map<String, MethodSpec> index(MethodSpec... specs) {
        Map<String, MethodSpec> map = new LinkedHashMap<>();
        for (MethodSpec s : specs) map.put(s.name(), s);
        return map;
    }
}
