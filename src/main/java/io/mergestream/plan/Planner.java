package io.mergestream.plan;

import io.mergestream.MergestreamException;
import io.mergestream.format.Checkpoint;
import io.mergestream.format.StoredTensor;
import io.mergestream.kernel.Consensus;
import io.mergestream.method.MergeMethod;
import io.mergestream.method.Methods;
import io.mergestream.recipe.MethodSpec;
import io.mergestream.recipe.ModelEntry;
import io.mergestream.recipe.ParameterDef;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import io.mergestream.tokenizer.VocabularyPlan;
import io.mergestream.tokenizer.VocabularyPlanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Turns a validated recipe into a {@link MergePlan}: opens every model, decides each output tensor's job,
 * checks that every tensor exists with a compatible shape in every model, and resolves the method's
 * parameters per tensor (gradients, filters). Every problem is reported here, before any output exists.
 */
public final class Planner {

    private final Recipe recipe;
    private final long seed;
    private final Map<Path, Checkpoint> opened = new HashMap<>();
    /** The vocabulary merge, or null when vocabulary tensors are merged by position (tokenizer_source: base). */
    private VocabularyPlan vocabulary;

    private Planner(Recipe recipe, long seed) {
        this.recipe = recipe;
        this.seed = seed;
    }

    /** Plans {@code recipe} with {@code seed} (the recipe's own unless overridden on the command line). */
    public static MergePlan plan(Recipe recipe, long seed) {
        Planner p = new Planner(recipe, seed);
        try {
            return p.build();
        } catch (RuntimeException e) {
            p.opened.values().forEach(Checkpoint::close);
            throw e;
        }
    }

    private MergePlan build() {
        MergeMethod method = Methods.byName(recipe.methodName()).orElseThrow(() ->
                new MergestreamException(recipe.path() + ": merge_method '" + recipe.methodName() + "' has no implementation"));
        boolean needsBase = recipe.method().needsBase();
        ModelInput base = recipe.baseModel().map(this::open).orElse(null);
        List<ModelEntry> entries = recipe.mergedModels();
        List<ModelInput> models = new ArrayList<>();
        for (ModelEntry e : entries) models.add(open(e.model()));

        Checkpoint reference = needsBase ? base.checkpoint() : models.get(0).checkpoint();
        int numLayers = countLayers(reference);
        vocabulary = vocabularyPlan(base, models, reference);
        List<TensorJob> jobs = new ArrayList<>();
        for (StoredTensor t : reference.tensors()) {
            jobs.add(needsBase ? taskArithmeticJob(t, models, entries, numLayers)
                    : linearJob(t, models, entries, numLayers));
        }
        if (needsBase) checkNoExtraTensors(reference, models);
        DType configDtype = recipe.outDtype().or(recipe::dtype).orElseGet(() -> dominantDtype(reference));
        Path configSource = reference.directory();
        Path tokenizerSource = tokenizerSource(configSource);
        return new MergePlan(recipe, method, seed, base, models, List.copyOf(jobs), configDtype, configSource,
                tokenizerSource, vocabulary);
    }

    private ModelInput open(String model) {
        Path path = recipe.resolveModelPath(model);
        if (!Files.exists(path)) {
            if (Recipe.looksLikeHubName(model)) {
                throw new MergestreamException(recipe.path() + ": model '" + model + "' is not a local directory; "
                        + "mergestream does not download models: download it first (e.g. huggingface-cli download "
                        + model + " --local-dir DIR) and name the directory in the recipe");
            }
            throw new MergestreamException(recipe.path() + ": model '" + model + "' not found (looked for " + path + ")");
        }
        Path key = path.toAbsolutePath().normalize();
        return new ModelInput(model, opened.computeIfAbsent(key, Checkpoint::open));
    }

    private TensorJob taskArithmeticJob(StoredTensor b, List<ModelInput> models, List<ModelEntry> entries, int numLayers) {
        String name = b.name();
        DType out = outDtype(b.info().dtype());
        if (recipe.isExcluded(name) || !b.info().dtype().isMergeable()) {
            return TensorJob.copy(name, out, b);
        }
        List<StoredTensor> inputs = new ArrayList<>();
        for (ModelInput m : models) {
            StoredTensor t = find(m, name);
            checkMergeable(m, t);
            if (!b.info().sameShape(t.info().shape()) && !(isVocabulary(name) && sameButRows(b.info(), t.info()))) {
                throw shapeMismatch(m, t, b.info().shapeString() + " in the base");
            }
            inputs.add(t);
        }
        return new TensorJob(name, out, vocabularyShape(name, b.info().shape()), TensorJob.Kind.MERGE, null, b,
                List.copyOf(inputs), params(name, entries, numLayers));
    }

    private TensorJob linearJob(StoredTensor first, List<ModelInput> models, List<ModelEntry> entries, int numLayers) {
        String name = first.name();
        DType out = outDtype(first.info().dtype());
        if (recipe.isExcluded(name) || !first.info().dtype().isMergeable()) {
            return TensorJob.copy(name, out, first);
        }
        long[] shape = first.info().shape();
        List<StoredTensor> inputs = new ArrayList<>();
        for (ModelInput m : models) {
            StoredTensor t = find(m, name);
            checkMergeable(m, t);
            if (!first.info().sameShape(t.info().shape())) {
                if (!(isVocabulary(name) && sameButRows(first.info(), t.info()))) {
                    throw shapeMismatch(m, t, first.info().shapeString() + " in " + models.get(0).name());
                }
                shape[0] = Math.min(shape[0], t.info().dim(0)); // the common sub-matrix, as mergekit truncates
            }
            inputs.add(t);
        }
        recipe.checkLinearDivisor(name, ParameterResolver.layerIndex(name), numLayers);
        return new TensorJob(name, out, vocabularyShape(name, shape), TensorJob.Kind.MERGE, null, null, List.copyOf(inputs),
                params(name, entries, numLayers));
    }

    /** A vocabulary tensor rebuilt onto the output vocabulary has its row count; every other shape is kept. */
    private long[] vocabularyShape(String name, long[] shape) {
        if (vocabulary == null || !vocabulary.remaps(name)) return shape;
        long[] s = shape.clone();
        s[0] = vocabulary.rows();
        return s;
    }

    /**
     * The vocabulary merge of {@code tokenizer_source: union / MODEL} or a {@code tokenizer:} block; null otherwise.
     * Participants are the base (if any) and every merged model once; each vocabulary tensor of the reference is
     * found in each (a missing lm_head falls back to the tied embedding).
     */
    private VocabularyPlan vocabularyPlan(ModelInput base, List<ModelInput> models, Checkpoint reference) {
        var settings = recipe.vocabularyMerge();
        if (settings.isEmpty()) return null;
        List<ModelInput> participants = new ArrayList<>();
        if (base != null) participants.add(base);
        int[] modelParticipants = new int[models.size()];
        for (int j = 0; j < models.size(); j++) {
            int p = -1;
            for (int k = 0; k < participants.size(); k++) {
                if (participants.get(k).checkpoint() == models.get(j).checkpoint()) p = k;
            }
            if (p < 0) {
                participants.add(models.get(j));
                p = participants.size() - 1;
            }
            modelParticipants[j] = p;
        }
        Map<String, List<StoredTensor>> tensors = new LinkedHashMap<>();
        for (StoredTensor t : reference.tensors()) {
            if (!isVocabulary(t.name())) continue;
            if (recipe.isExcluded(t.name()) || !t.info().dtype().isMergeable() || t.info().rank() == 0) {
                throw new MergestreamException(recipe.path() + ": tensor '" + t.name() + "' holds the vocabulary, which"
                        + " the tokenizer source rebuilds, so it cannot be excluded or copied (remove it from exclude:)");
            }
            List<StoredTensor> per = new ArrayList<>();
            for (ModelInput p : participants) {
                StoredTensor x = find(p, t.name());
                checkMergeable(p, x);
                if (!sameButRows(t.info(), x.info())) {
                    throw shapeMismatch(p, x, t.info().shapeString() + " (but for its rows) in the reference model");
                }
                per.add(x);
            }
            tensors.put(t.name(), per);
        }
        return VocabularyPlanner.build(recipe.path(), settings.get(), participants.stream().map(ModelInput::name).toList(),
                participants.stream().map(p -> p.checkpoint().directory()).toList(), base != null, modelParticipants,
                tensors, recipe::resolveModelPath);
    }

    /** Parameters every method of the family reads through a field of {@link TensorParams}; the others go to its extra. */
    private static final Set<String> COMMON = Set.of("weight", "density", "rescale", "normalize", "lambda",
            "sign_election", "int8_mask");

    private TensorParams params(String name, List<ModelEntry> entries, int numLayers) {
        OptionalInt layer = ParameterResolver.layerIndex(name);
        MethodSpec spec = recipe.method();
        float[] weights = new float[entries.size()];
        double[] densities = new double[entries.size()];
        int[] ordinals = new int[entries.size()];
        boolean weighted = spec.parameter("weight").isPresent();
        boolean sparsifies = spec.parameter("density").isPresent();
        Map<String, double[]> perModel = new HashMap<>();
        for (ParameterDef def : spec.modelParameters()) {
            if (!COMMON.contains(def.name())) perModel.put(def.name(), new double[entries.size()]);
        }
        for (int j = 0; j < entries.size(); j++) {
            ParameterResolver r = recipe.parametersFor(entries.get(j));
            weights[j] = weighted ? (float) r.resolveNumber("weight", name, layer, numLayers) : 1f;
            densities[j] = sparsifies ? r.resolveNumber("density", name, layer, numLayers) : 1.0;
            if (!(densities[j] > 0 && densities[j] <= 1)) {
                throw new MergestreamException(recipe.path() + ": models[" + entries.get(j).model()
                        + "].parameters.density resolves to " + densities[j] + " for tensor '" + name
                        + "', outside (0, 1]");
            }
            for (Map.Entry<String, double[]> e : perModel.entrySet()) {
                e.getValue()[j] = r.resolveNumber(e.getKey(), name, layer, numLayers);
            }
            ordinals[j] = spec.needsBase() ? recipe.fineTuneIndex(entries.get(j)) : j;
        }
        if (spec.sparsification() == MethodSpec.Sparsification.DELLA_MAGPRUNE) {
            checkDellaBounds(name, entries, densities, perModel.get("epsilon"));
        }
        ParameterResolver g = recipe.mergeParameters();
        Map<String, Double> numbers = new HashMap<>();
        Map<String, String> words = new HashMap<>();
        for (ParameterDef def : spec.mergeParameters()) {
            if (COMMON.contains(def.name())) continue;
            switch (def.type()) {
                case NUMBER -> numbers.put(def.name(), g.resolveNumber(def.name(), name, layer, numLayers));
                case CHOICE -> words.put(def.name(), g.resolveChoice(def.name(), name));
                case BOOLEAN -> words.put(def.name(), g.resolveFlagOrWord(def.name(), name));
            }
        }
        boolean rescale = false;
        if (spec.parameter("rescale").isPresent()) {
            String mode = g.resolveFlagOrWord("rescale", name);
            rescale = mode.equals("true");
            if (!mode.equals("true") && !mode.equals("false")) words.put("rescale", mode);
        }
        float lambda = spec.parameter("lambda").isPresent()
                ? (float) g.resolveNumber("lambda", name, layer, numLayers) : 1f;
        Consensus consensus = spec.parameter("sign_election").isPresent()
                ? Consensus.valueOf(g.resolveChoice("sign_election", name).toUpperCase(Locale.ROOT)) : Consensus.NONE;
        boolean normalize = spec.parameter("normalize").isPresent() && g.resolveBoolean("normalize", name);
        return new TensorParams(weights, densities, ordinals, rescale, normalize, lambda, consensus, seed,
                new TensorParams.Extra(perModel, numbers, words));
    }

    /** DELLA's keep probabilities span density ± epsilon, which must stay inside (0, 1) (as mergekit requires). */
    private void checkDellaBounds(String name, List<ModelEntry> entries, double[] densities, double[] epsilons) {
        for (int j = 0; j < entries.size(); j++) {
            double rho = densities[j], eps = epsilons[j];
            if (rho < 1 && (rho + eps >= 1 || rho - eps <= 0)) {
                throw new MergestreamException(recipe.path() + ": model '" + entries.get(j).model() + "' has density "
                        + rho + " and epsilon " + eps + " for tensor '" + name + "': density ± epsilon must lie"
                        + " inside (0, 1) (lower epsilon, or move the density away from 0 and 1)");
            }
        }
    }

    /** The model's tensor; a missing {@code lm_head.weight} falls back to the tied input embedding. */
    private StoredTensor find(ModelInput m, String name) {
        StoredTensor t = m.checkpoint().tensor(name);
        if (t == null && name.equals("lm_head.weight")) t = m.checkpoint().tensor("model.embed_tokens.weight");
        if (t == null) {
            throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' has no tensor '" + name
                    + "' (add a regex matching it to exclude: to take it from the base)");
        }
        return t;
    }

    private void checkMergeable(ModelInput m, StoredTensor t) {
        if (!t.info().dtype().isMergeable()) {
            throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' tensor '" + t.name() + "' is "
                    + t.info().dtype() + ", which cannot be merged (only F32, F16 and BF16 can)");
        }
    }

    private MergestreamException shapeMismatch(ModelInput m, StoredTensor t, String expected) {
        return new MergestreamException(recipe.path() + ": model '" + m.name() + "' tensor '" + t.name()
                + "' has shape " + t.info().shapeString() + " but " + expected
                + " (add a regex matching it to exclude: to take it from the base)");
    }

    /** Fine-tune tensors the base lacks cannot be merged: they must be excluded explicitly. */
    private void checkNoExtraTensors(Checkpoint base, List<ModelInput> models) {
        for (ModelInput m : models) {
            for (StoredTensor t : m.checkpoint().tensors()) {
                if (!base.contains(t.name()) && !recipe.isExcluded(t.name())) {
                    throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' tensor '" + t.name()
                            + "' is missing from the base model (add a regex matching it to exclude: to leave it out)");
                }
            }
        }
    }

    private DType outDtype(DType source) {
        if (!source.isMergeable()) return source;
        return recipe.outDtype().or(recipe::dtype).orElse(source);
    }

    /** Input embeddings and output heads, whose row count is the vocabulary size. */
    static boolean isVocabulary(String name) {
        return name.contains("embed_tokens") || name.contains("lm_head") || name.contains("word_embeddings")
                || name.contains(".wte.") || name.contains("embed_out");
    }

    private static boolean sameButRows(TensorInfo a, TensorInfo b) {
        if (a.rank() != b.rank() || a.rank() == 0) return false;
        for (int i = 1; i < a.rank(); i++) if (a.dim(i) != b.dim(i)) return false;
        return true;
    }

    private static int countLayers(Checkpoint c) {
        int max = -1;
        for (StoredTensor t : c.tensors()) {
            OptionalInt l = ParameterResolver.layerIndex(t.name());
            if (l.isPresent()) max = Math.max(max, l.getAsInt());
        }
        return max + 1;
    }

    private static DType dominantDtype(Checkpoint c) {
        Map<DType, Long> bytes = new HashMap<>();
        for (StoredTensor t : c.tensors()) bytes.merge(t.info().dtype(), t.info().byteSize(), Long::sum);
        return bytes.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(DType.F32);
    }

    /** Whose tokenizer files are copied (a vocabulary merge then rewrites them for the output vocabulary). */
    private Path tokenizerSource(Path fallback) {
        String source = recipe.vocabularyMerge().map(s -> s.source()).orElse("base");
        if (source.equals("base") || source.equals("union")) return fallback;
        Path p = recipe.resolveModelPath(source);
        if (!Files.isDirectory(p)) {
            throw new MergestreamException(recipe.path() + ": tokenizer_source: model '" + source + "' not found");
        }
        return p;
    }
}
