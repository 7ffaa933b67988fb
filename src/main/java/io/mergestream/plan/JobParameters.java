package io.mergestream.plan;

import io.mergestream.method.MethodSettings;
import io.mergestream.method.Sparsification;
import io.mergestream.method.TensorParams;
import io.mergestream.MergestreamException;
import io.mergestream.kernel.Consensus;
import io.mergestream.recipe.MethodSpec;
import io.mergestream.recipe.ModelEntry;
import io.mergestream.recipe.OutputSlice;
import io.mergestream.recipe.ParameterDef;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.recipe.Recipe;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Resolves a method's parameters for one output tensor into {@link TensorParams}: per-model parameters for
 * each merged model (its own, then the global ones, then defaults), merge-wide ones from the global block,
 * gradients read at position {@code t} (the layer's place among the model's layers, or the slice's).
 */
final class JobParameters {

    private JobParameters() {}

    /**
     * @param slice    the slice the tensor belongs to (its parameters come before the top-level ones), or null
     * @param entries  the merged models in job order; entry {@code j}'s DARE model number is {@code j} (its
     *                 place among the non-base models of its group, as spec/dare-mask.md numbers them)
     */
    static TensorParams resolve(Recipe recipe, OutputSlice slice, long seed, String name, List<ModelEntry> entries,
                                double t) {
        MethodSpec method = recipe.method();
        int k = entries.size();
        float[] weights = new float[k];
        double[] densities = new double[k];
        int[] ordinals = new int[k];
        Map<String, double[]> perModel = new HashMap<>();
        for (int j = 0; j < k; j++) {
            ParameterResolver r = recipe.parametersFor(entries.get(j));
            weights[j] = method.parameter("weight").isPresent() ? (float) r.resolveNumberAt("weight", name, t) : 1f;
            densities[j] = method.parameter("density").isPresent() ? r.resolveNumberAt("density", name, t) : 1.0;
            if (!(densities[j] > 0 && densities[j] <= 1)) {
                throw new MergestreamException(recipe.path() + ": models[" + entries.get(j).model()
                        + "].parameters.density resolves to " + densities[j] + " for tensor '" + name
                        + "', outside (0, 1]");
            }
            ordinals[j] = j;
            for (ParameterDef p : method.modelParameters()) {
                if (isFamilyParameter(p.name())) continue;
                perModel.computeIfAbsent(p.name(), x -> new double[k])[j] = r.resolveNumberAt(p.name(), name, t);
            }
        }
        if (method.sparsification() == Sparsification.DELLA_MAGPRUNE) {
            checkDellaBounds(recipe, name, entries, densities, perModel.get("epsilon"));
        }
        ParameterResolver g = slice == null ? recipe.mergeParameters() : recipe.mergeParameters(slice);
        Map<String, Double> numbers = new HashMap<>();
        Map<String, Boolean> flags = new HashMap<>();
        Map<String, String> words = new HashMap<>();
        for (ParameterDef p : method.mergeParameters()) {
            if (isFamilyParameter(p.name())) continue;
            switch (p.type()) {
                case NUMBER -> numbers.put(p.name(), g.resolveNumberAt(p.name(), name, t));
                case BOOLEAN -> flags.put(p.name(), g.resolveBoolean(p.name(), name));
                case CHOICE -> words.put(p.name(), g.resolveChoice(p.name(), name));
            }
        }
        // true (= l1, mergekit's rule), false, or inverse (the DARE paper's division by the keep probability)
        TensorParams.Rescale rescale = method.parameter("rescale").isPresent()
                ? TensorParams.Rescale.fromRecipe(g.resolveFlagOrWord("rescale", name)) : TensorParams.Rescale.NONE;
        boolean normalize = method.parameter("normalize").isPresent() && g.resolveBoolean("normalize", name);
        float lambda = method.parameter("lambda").isPresent() ? (float) g.resolveNumberAt("lambda", name, t) : 1f;
        Consensus consensus = method.parameter("sign_election").isPresent()
                ? Consensus.valueOf(g.resolveChoice("sign_election", name).toUpperCase(Locale.ROOT)) : Consensus.NONE;
        return new TensorParams(weights, densities, ordinals, rescale, normalize, lambda, consensus, seed,
                new MethodSettings(numbers, flags, words, perModel));
    }

    /** DELLA's keep probabilities range over density ± epsilon, which must stay inside (0, 1). */
    private static void checkDellaBounds(Recipe recipe, String name, List<ModelEntry> entries, double[] densities,
                                         double[] epsilons) {
        for (int j = 0; j < entries.size(); j++) {
            double rho = densities[j], eps = epsilons[j];
            if (rho < 1 && (rho + eps >= 1 || rho - eps <= 0)) {
                throw new MergestreamException(recipe.path() + ": model '" + entries.get(j).model() + "' has density "
                        + rho + " and epsilon " + eps + " for tensor '" + name + "': density ± epsilon must lie"
                        + " inside (0, 1) (lower epsilon, or move the density away from 0 and 1)");
            }
        }
    }

    /** The task-arithmetic family's and linear's parameters, which have fields of their own in TensorParams. */
    private static boolean isFamilyParameter(String name) {
        return switch (name) {
            case "weight", "density", "rescale", "normalize", "lambda", "sign_election", "int8_mask" -> true;
            default -> false;
        };
    }
}
