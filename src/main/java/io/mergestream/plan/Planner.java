package io.mergestream.plan;

import io.mergestream.MergestreamException;
import io.mergestream.format.Checkpoint;
import io.mergestream.format.StoredTensor;
import io.mergestream.kernel.Consensus;
import io.mergestream.method.MergeMethod;
import io.mergestream.method.Methods;
import io.mergestream.recipe.ModelEntry;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Turns a validated recipe into a {@link MergePlan}: opens every model, decides each output tensor's job,
 * checks that every tensor exists with a compatible shape in every model, and resolves the method's
 * parameters per tensor (gradients, filters). Every problem is reported here, before any output exists.
 */
public final class Planner {

    private final Recipe recipe;
    private final long seed;
    private final Map<Path, Checkpoint> opened = new HashMap<>();

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
                tokenizerSource);
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
        return new TensorJob(name, out, b.info().shape(), TensorJob.Kind.MERGE, null, b, List.copyOf(inputs),
                params(name, entries, numLayers));
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
        return new TensorJob(name, out, shape, TensorJob.Kind.MERGE, null, null, List.copyOf(inputs),
                params(name, entries, numLayers));
    }

    private TensorParams params(String name, List<ModelEntry> entries, int numLayers) {
        OptionalInt layer = ParameterResolver.layerIndex(name);
        float[] weights = new float[entries.size()];
        double[] densities = new double[entries.size()];
        int[] ordinals = new int[entries.size()];
        boolean sparsifies = recipe.method().parameter("density").isPresent();
        for (int j = 0; j < entries.size(); j++) {
            ParameterResolver r = recipe.parametersFor(entries.get(j));
            weights[j] = (float) r.resolveNumber("weight", name, layer, numLayers);
            densities[j] = sparsifies ? r.resolveNumber("density", name, layer, numLayers) : 1.0;
            if (!(densities[j] > 0 && densities[j] <= 1)) {
                throw new MergestreamException(recipe.path() + ": models[" + entries.get(j).model()
                        + "].parameters.density resolves to " + densities[j] + " for tensor '" + name
                        + "', outside (0, 1]");
            }
            ordinals[j] = recipe.method().needsBase() ? recipe.fineTuneIndex(entries.get(j)) : j;
        }
        ParameterResolver g = recipe.mergeParameters();
        boolean rescale = recipe.method().parameter("rescale").isPresent() && g.resolveBoolean("rescale", name);
        float lambda = recipe.method().parameter("lambda").isPresent()
                ? (float) g.resolveNumber("lambda", name, layer, numLayers) : 1f;
        Consensus consensus = recipe.method().parameter("sign_election").isPresent()
                ? Consensus.valueOf(g.resolveChoice("sign_election", name).toUpperCase(Locale.ROOT)) : Consensus.NONE;
        return new TensorParams(weights, densities, ordinals, rescale, g.resolveBoolean("normalize", name), lambda,
                consensus, seed);
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

    /** The dtype holding most of the checkpoint's bytes: config.json's torch_dtype when none is asked for. */
    static DType dominantDtype(Checkpoint c) {
        Map<DType, Long> bytes = new HashMap<>();
        for (StoredTensor t : c.tensors()) bytes.merge(t.info().dtype(), t.info().byteSize(), Long::sum);
        return bytes.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(DType.F32);
    }

    private Path tokenizerSource(Path fallback) {
        String source = recipe.tokenizerSource().orElse("base");
        if (source.equals("base")) return fallback;
        if (source.equals("union")) {
            throw new MergestreamException(recipe.path() + ": tokenizer_source: union is not supported yet");
        }
        Path p = recipe.resolveModelPath(source);
        if (!Files.isDirectory(p)) {
            throw new MergestreamException(recipe.path() + ": tokenizer_source: model '" + source + "' not found");
        }
        return p;
    }
}
