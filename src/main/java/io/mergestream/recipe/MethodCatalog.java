package io.mergestream.recipe;

import io.mergestream.method.ArceeFusion;
import io.mergestream.method.Karcher;
import io.mergestream.method.Linear;
import io.mergestream.method.MergeMethod;
import io.mergestream.method.ModelStock;
import io.mergestream.method.MultiSlerp;
import io.mergestream.method.NearSwap;
import io.mergestream.method.NuSlerp;
import io.mergestream.method.Passthrough;
import io.mergestream.method.Ram;
import io.mergestream.method.Sce;
import io.mergestream.method.Slerp;
import io.mergestream.method.Sparsification;
import io.mergestream.method.TaskArithmeticFamily;
import io.mergestream.recipe.MethodSpec.BaseUse;
import io.mergestream.recipe.ParameterDef.NumberRange;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The merge methods mergestream runs (the whole catalogue of merge-semantics.md), with their parameters,
 * defaults and implementations: one entry per method, the only place a method is named, so a recipe name
 * without an implementation (or the reverse) cannot be written down.
 *
 * <p>Parameters, all as in mergekit unless noted:
 * <ul>
 *   <li>per model: {@code weight} (required), and for the sparsifying methods {@code density} (default 1,
 *       within (0, 1]);</li>
 *   <li>merge-wide: {@code normalize} (linear and ties default true, the others false), {@code lambda}
 *       (default 1, task-arithmetic family), {@code rescale} (dare_* and della*: true, the others false;
 *       {@code true}, also written {@code l1}, is mergekit's rule: the kept delta is scaled so its L1 norm
 *       equals the delta's; {@code inverse}, a mergestream word, divides each kept element by its keep
 *       probability as the DARE paper does), {@code int8_mask} (accepted and ignored: it only changes
 *       mergekit's mask memory, never the result);</li>
 *   <li>breadcrumbs: per-model {@code gamma} (0.01); della: per-model {@code epsilon} (0.15); sce:
 *       {@code select_topk} (1); ram: {@code epsilon} (1e-5); ramplus_tl: {@code r} (0.1), {@code alpha}
 *       (0.2), {@code epsilon} (1e-5). sce, ram and ramplus_tl take no weights (mergekit derives them);</li>
 *   <li>{@code sign_election} (ties and dare_ties: {@code weighted_sum} (default), {@code sum} or
 *       {@code count}) is a mergestream name: mergekit has no recipe parameter for the election (its
 *       {@code consensus_method} is fixed per method, and equals {@code weighted_sum}); the name and words
 *       follow merge-semantics.md;</li>
 *   <li>{@code slerp}: {@code t} (required, merge-wide, gradients and filters allowed); {@code nearswap}:
 *       {@code t} (required; as in mergekit any finite number, 0 or less giving the base); {@code nuslerp}: {@code weight} per model, {@code nuslerp_row_wise}
 *       (false), {@code nuslerp_flatten} (true); {@code multislerp}: {@code weight} per model,
 *       {@code normalize_weights} (true), {@code eps} (1e-8); {@code karcher}: {@code max_iter} (10, truncated
 *       to an integer), {@code tol} (1e-5); {@code model_stock}: {@code filter_wise} (false);
 *       {@code passthrough}: {@code scale} per model (1); {@code arcee_fusion}: none.</li>
 * </ul>
 * Parameters that a method would ignore (e.g. {@code density} with {@code task_arithmetic}) are ignored with a
 * warning naming the key path, as mergekit ignores them (an error with {@code --strict}): see RecipeParser.
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

    /**
     * {@code rescale}: true (mergekit's L1 rule; {@code l1} is a synonym), false, or {@code inverse} (the DARE
     * paper's division by the keep probability, a mergestream word). mergekit's recipe parser takes only
     * booleans here, so there is no other word to recognise.
     */
    private static ParameterDef rescale(boolean byDefault) {
        return ParameterDef.flagOrWord("rescale", byDefault, List.of("l1", "inverse"));
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


    private static final int ANY = Integer.MAX_VALUE;

    private static final Map<String, MethodSpec> SUPPORTED = index(
            new MethodSpec("linear", BaseUse.LISTED_ONLY, Sparsification.NONE, false,
                    List.of(WEIGHT), List.of(normalize(true)), 1, ANY, false, new Linear()),
            new MethodSpec("task_arithmetic", BaseUse.DELTAS, Sparsification.NONE, false,
                    List.of(WEIGHT), List.of(normalize(false), LAMBDA, INT8_MASK), 1, ANY, true,
                    new TaskArithmeticFamily("task_arithmetic", Sparsification.NONE, false)),
            family("ties", Sparsification.MAGNITUDE, true, true, false),
            family("dare_linear", Sparsification.RANDOM, false, false, true),
            family("dare_ties", Sparsification.RANDOM, true, false, true),
            family("breadcrumbs", Sparsification.MAGNITUDE_OUTLIERS, false, false, false, GAMMA),
            family("breadcrumbs_ties", Sparsification.MAGNITUDE_OUTLIERS, true, false, false, GAMMA),
            family("della_linear", Sparsification.DELLA_MAGPRUNE, false, false, true, EPSILON),
            family("della", Sparsification.DELLA_MAGPRUNE, true, true, true, EPSILON),
            deltas("sce", List.of(), List.of(SELECT_TOPK, INT8_MASK), new Sce()),
            deltas("ram", List.of(), List.of(RAM_EPSILON), Ram.ram()),
            deltas("ramplus_tl", List.of(), List.of(RAM_R, RAM_ALPHA, RAM_EPSILON), Ram.plusTensorLocal()),
            other("slerp", BaseUse.REFERENCE, List.of(), List.of(ParameterDef.requiredNumber("t")), 1, 1, new Slerp()),
            other("nuslerp", BaseUse.OPTIONAL_DELTAS, List.of(WEIGHT),
                    List.of(ParameterDef.flag("nuslerp_row_wise", false), ParameterDef.flag("nuslerp_flatten", true)),
                    2, 2, new NuSlerp()),
            other("multislerp", BaseUse.OPTIONAL_DELTAS, List.of(WEIGHT),
                    List.of(ParameterDef.flag("normalize_weights", true),
                            ParameterDef.number("eps", 1e-8, NumberRange.POSITIVE)), 1, ANY, new MultiSlerp()),
            other("karcher", BaseUse.MERGED, List.of(),
                    // at most 10000 iterations: each costs O(K²) on the Gram matrix, and the step converges
                    // to f64 precision in far fewer (mergekit: 10); an unbounded max_iter with tol 0 never ends
                    List.of(ParameterDef.number("max_iter", 10, new NumberRange(0, true, 10_000, true)),
                            ParameterDef.number("tol", 1e-5, NumberRange.NON_NEGATIVE)), 1, ANY, new Karcher()),
            other("model_stock", BaseUse.REFERENCE, List.of(), List.of(ParameterDef.flag("filter_wise", false)),
                    2, ANY, new ModelStock()),
            other("nearswap", BaseUse.REFERENCE, List.of(),
                    List.of(ParameterDef.requiredNumber("t")), 1, 1, new NearSwap()),
            other("arcee_fusion", BaseUse.REFERENCE, List.of(), List.of(), 1, 1, new ArceeFusion()),
            other("passthrough", BaseUse.MERGED, List.of(ParameterDef.number("scale", 1.0, NumberRange.FINITE)),
                    List.of(), 1, 1, new Passthrough()));

    /**
     * A sparsify-weight-(elect)-sum member of the task-arithmetic family with its defaults. A recipe listing only
     * the base is valid and gives the base, as mergekit's task-arithmetic merge returns it when there is no delta.
     */
    private static MethodSpec family(String name, Sparsification sparsification, boolean signConsensus,
                                     boolean normalize, boolean rescale, ParameterDef... modelExtras) {
        List<ParameterDef> model = new java.util.ArrayList<>(List.of(WEIGHT, DENSITY));
        model.addAll(List.of(modelExtras));
        List<ParameterDef> merge = new java.util.ArrayList<>(List.of(normalize(normalize), rescale(rescale), LAMBDA,
                INT8_MASK));
        if (signConsensus) merge.add(SIGN_ELECTION);
        return new MethodSpec(name, BaseUse.DELTAS, sparsification, signConsensus, model, merge, 1, ANY, true,
                new TaskArithmeticFamily(name, sparsification, signConsensus));
    }

    /** Other delta methods on the base (sce, ram): their own parameters, no sparsifier of the table. */
    private static MethodSpec deltas(String name, List<ParameterDef> modelParameters, List<ParameterDef> mergeParameters,
                                     MergeMethod implementation) {
        return new MethodSpec(name, BaseUse.DELTAS, Sparsification.NONE, false, modelParameters, mergeParameters,
                1, ANY, true, implementation);
    }

    /**
     * The methods outside the task-arithmetic family; as in mergekit, a lone input is returned as it is (for the
     * family and the other delta methods, a recipe whose only model is the base gives the base).
     */
    private static MethodSpec other(String name, BaseUse base, List<ParameterDef> modelParameters,
                                    List<ParameterDef> mergeParameters, int minModels, int maxModels,
                                    MergeMethod implementation) {
        return new MethodSpec(name, base, Sparsification.NONE, false, modelParameters, mergeParameters,
                minModels, maxModels, true, implementation);
    }

    private MethodCatalog() {}

    public static Optional<MethodSpec> find(String name) {
        return Optional.ofNullable(SUPPORTED.get(name));
    }

    public static List<String> supportedNames() {
        return List.copyOf(SUPPORTED.keySet());
    }

    /**
     * The method's spec, or the problem to report. The problem text names the key itself
     * ("merge_method 'x' ..."), so it is reported without a key path prefix.
     */
    static MethodSpec lookup(String name, RecipeErrors errors) {
        return find(name).orElseThrow(() -> errors.at(KeyPath.root(), "unknown merge_method '" + name
                + "' (known: " + String.join(", ", supportedNames()) + ")"));
    }

    private static Map<String, MethodSpec> index(MethodSpec... specs) {
        Map<String, MethodSpec> map = new LinkedHashMap<>();
        for (MethodSpec s : specs) map.put(s.name(), s);
        return map;
    }
}
