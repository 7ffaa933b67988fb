package io.mergestream.recipe;

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
 *       (default 1, task-arithmetic family), {@code rescale} (dare_* and della*: true, the others false;
 *       {@code rescale: l1} matches the kept delta's L1 norm to the delta's, l2 and linf are recognised but
 *       not supported yet), {@code int8_mask} (accepted and ignored: it only changes mergekit's mask memory,
 *       never the result);</li>
 *   <li>breadcrumbs: per-model {@code gamma} (0.01); della: per-model {@code epsilon} (0.15); sce:
 *       {@code select_topk} (1); ram: {@code epsilon} (1e-5); ramplus_tl: {@code r} (0.1), {@code alpha}
 *       (0.2), {@code epsilon} (1e-5). sce, ram and ramplus_tl take no weights (mergekit derives them);</li>
 *   <li>{@code sign_election} (ties and dare_ties: {@code weighted_sum} (default), {@code sum} or
 *       {@code count}) is a mergestream name: mergekit has no recipe parameter for the election (its
 *       {@code consensus_method} is fixed per method, and equals {@code weighted_sum}); the name and words
 *       follow merge-semantics.md.</li>
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

    /** {@code rescale: l1} is accepted by every sparsifying method; mergekit's l2 and linf are not yet. */
    private static ParameterDef rescale(boolean byDefault) {
        return ParameterDef.flagOrWord("rescale", byDefault, List.of("l1"), "l2", "linf");
    }

    /** breadcrumbs: the fraction of largest |delta| dropped as outliers, per model (mergekit: 0.01). */
    private static final ParameterDef GAMMA = ParameterDef.number("gamma", 0.01, new NumberRange(0, true, 1, true));
    /** DELLA: the spread of keep probabilities around the density, per model (mergekit: 0.15). */
    private static final ParameterDef EPSILON = ParameterDef.number("epsilon", 0.15, new NumberRange(0, true, 1, false));
    /** SCE: the fraction of elements (with non-zero variance) kept by variance (mergekit: 1, keep all). */
    private static final ParameterDef SELECT_TOPK =
            ParameterDef.number("select_topk", 1.0, new NumberRange(0, true, 1, true));
    /** RAM: |delta| above this counts as a contribution (mergekit: 1e-5). */
    private static final ParameterDef RAM_EPSILON =
            ParameterDef.number("epsilon", 1e-5, new NumberRange(0, true, Double.POSITIVE_INFINITY, false));
    private static final ParameterDef RAM_R = ParameterDef.number("r", 0.1, NumberRange.FINITE);
    private static final ParameterDef RAM_ALPHA = ParameterDef.number("alpha", 0.2, NumberRange.FINITE);

    private static MethodSpec family(String name, Sparsification sparsification, boolean signConsensus,
                                     boolean normalize, boolean rescale, ParameterDef... modelExtras) {
        List<ParameterDef> model = new java.util.ArrayList<>(List.of(WEIGHT, DENSITY));
        model.addAll(List.of(modelExtras));
        List<ParameterDef> merge = new java.util.ArrayList<>(List.of(normalize(normalize), rescale(rescale), LAMBDA,
                INT8_MASK));
        if (signConsensus) merge.add(SIGN_ELECTION);
        return new MethodSpec(name, true, sparsification, signConsensus, model, merge);
    }

    private static final Map<String, MethodSpec> SUPPORTED = index(
            new MethodSpec("linear", false, Sparsification.NONE, false,
                    List.of(WEIGHT), List.of(normalize(true))),
            new MethodSpec("task_arithmetic", true, Sparsification.NONE, false,
                    List.of(WEIGHT), List.of(normalize(false), LAMBDA, INT8_MASK)),
            family("ties", Sparsification.MAGNITUDE, true, true, false),
            family("dare_linear", Sparsification.RANDOM, false, false, true),
            family("dare_ties", Sparsification.RANDOM, true, false, true),
            family("breadcrumbs", Sparsification.MAGNITUDE_OUTLIERS, false, false, false, GAMMA),
            family("breadcrumbs_ties", Sparsification.MAGNITUDE_OUTLIERS, true, false, false, GAMMA),
            family("della_linear", Sparsification.DELLA_MAGPRUNE, false, false, true, EPSILON),
            family("della", Sparsification.DELLA_MAGPRUNE, true, true, true, EPSILON),
            new MethodSpec("sce", true, Sparsification.NONE, false,
                    List.of(), List.of(SELECT_TOPK, INT8_MASK)),
            new MethodSpec("ram", true, Sparsification.NONE, false,
                    List.of(), List.of(RAM_EPSILON)),
            new MethodSpec("ramplus_tl", true, Sparsification.NONE, false,
                    List.of(), List.of(RAM_R, RAM_ALPHA, RAM_EPSILON)));

    /** In merge-semantics.md's catalogue, not implemented yet. */
    private static final List<String> PLANNED = List.of(
            "slerp", "nuslerp", "multislerp", "karcher", "model_stock", "nearswap", "passthrough");

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
