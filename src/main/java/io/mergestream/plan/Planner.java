package io.mergestream.plan;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import io.mergestream.format.Checkpoint;
import io.mergestream.format.FormatException;
import io.mergestream.format.Json;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.StoredTensor;
import io.mergestream.method.MergeMethod;
import io.mergestream.method.Methods;
import io.mergestream.recipe.MethodSpec;
import io.mergestream.recipe.ModelEntry;
import io.mergestream.recipe.OutputSlice;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import io.mergestream.tokenizer.VocabularyPlan;
import io.mergestream.tokenizer.VocabularyPlanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;

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
        if (!recipe.slices().isEmpty()) {
            if (recipe.vocabularyMerge().isPresent()) {
                throw new MergestreamException(recipe.path() + ": tokenizer_source / tokenizer: with slices: is not"
                        + " supported yet (merge the vocabularies in a separate step)");
            }
            return new SlicePlanner(this, recipe).build();
        }
        MergeMethod method = method();
        ModelInput base = recipe.baseModel().map(this::open).orElse(null);
        ModelInput separateBase = recipe.method().separatesBase() ? base : null;
        List<ModelEntry> entries = recipe.mergedModels();
        List<ModelInput> models = new ArrayList<>();
        for (ModelEntry e : entries) models.add(open(e.model()));
        checkDistinct(recipe.models(), recipe.baseModel());

        Checkpoint reference = separateBase != null ? separateBase.checkpoint() : models.get(0).checkpoint();
        vocabulary = vocabularyPlan(base, models, reference);
        int numLayers = countLayers(reference);
        List<TensorJob> jobs = new ArrayList<>();
        for (StoredTensor t : reference.tensors()) {
            String name = t.name();
            List<StoredTensor> inputs = new ArrayList<>();
            if (!recipe.isExcluded(name) && t.info().dtype().isMergeable()) {
                for (ModelInput m : models) inputs.add(find(m, name));
            }
            double position = ParameterResolver.gradientPosition(ParameterResolver.layerIndex(name), numLayers);
            jobs.add(job(name, t, separateBase == null ? null : t, models, inputs, entries, position, null));
        }
        if (recipe.method().needsBase()) checkNoExtraTensors(reference, models);
        return plan(method, base, models, jobs, reference.directory(), reference, OptionalInt.empty());
    }

    MergeMethod method() {
        return Methods.byName(recipe.methodName()).orElseThrow(() ->
                new MergestreamException(recipe.path() + ": merge_method '" + recipe.methodName() + "' has no implementation"));
    }

    MergePlan plan(MergeMethod method, ModelInput base, List<ModelInput> models, List<TensorJob> jobs,
                   Path configSource, Checkpoint reference, OptionalInt outputLayers) {
        checkConfig(configSource);
        warnUnmatchedExcludes(jobs);
        DType configDtype = recipe.outDtype().or(recipe::dtype).orElseGet(() -> dominantDtype(reference));
        return new MergePlan(recipe, method, seed, base, models, List.copyOf(jobs), configDtype, configSource,
                tokenizerSource(configSource), outputLayers, vocabulary);
    }

    ModelInput open(String model) {
        // a local directory, else the Hugging Face cache; a one-line error naming what is missing otherwise
        Path path = recipe.locateModel(model);
        Path key = path.toAbsolutePath().normalize();
        return new ModelInput(model, opened.computeIfAbsent(key, Checkpoint::open));
    }

    /**
     * The job for output tensor {@code name}: {@code source} is the tensor copied when the inputs are empty
     * (the tensor is excluded or not a float), {@code base} the base's tensor for methods that keep the base
     * apart (else null), {@code inputs} the merged models' tensors. The task-arithmetic family works on the base's shape; the others on the common sub-matrix of all
     * inputs when vocabulary sizes differ, as mergekit truncates.
     */
    TensorJob job(String name, StoredTensor source, StoredTensor base, List<ModelInput> models,
                  List<StoredTensor> inputs, List<ModelEntry> entries, double position, OutputSlice slice) {
        if (recipe.isExcluded(name) || !source.info().dtype().isMergeable() || (inputs.isEmpty() && base == null)) {
            return TensorJob.copy(name, outDtype(source.info().dtype()), source);
        }
        StoredTensor first = base != null ? base : inputs.get(0);
        String where = base != null ? "in the base" : "in " + models.get(0).name();
        long[] shape = first.info().shape();
        for (int j = 0; j < inputs.size(); j++) {
            StoredTensor t = inputs.get(j);
            checkMergeable(models.get(j), t);
            if (first.info().sameShape(t.info().shape())) continue;
            if (!(isVocabulary(name) && sameButRows(first.info(), t.info()))) {
                throw shapeMismatch(models.get(j), t, first.info().shapeString() + " " + where);
            }
            // the task-arithmetic family keeps the base's rows; the others the common sub-matrix, as mergekit
            if (!recipe.method().needsBase()) shape[0] = Math.min(shape[0], t.info().dim(0));
        }
        recipe.checkWeightSum(slice, entries, name, position);
        return new TensorJob(name, outDtype(first.info().dtype()), vocabularyShape(name, shape), TensorJob.Kind.MERGE, null, base,
                List.copyOf(inputs), JobParameters.resolve(recipe, slice, seed, name, entries, position));
    }

    /**
     * The same model written twice under different spellings ({@code ./m} and {@code m/}, or a symlink to it) would
     * be merged twice, or (as the base under another name) merged as a fine-tune of itself: the entries of a group,
     * and the group's base, are compared by the real path of the directory they open. Plain repetitions of the same
     * text are reported by the recipe checks already. {@code base} is the group's base model, ignored by methods
     * that merge only the listed models (linear).
     */
    void checkDistinct(List<ModelEntry> group, Optional<String> base) {
        Map<Path, ModelEntry> seen = new LinkedHashMap<>();
        Optional<Path> basePath = recipe.method().base() == MethodSpec.BaseUse.LISTED_ONLY
                ? Optional.empty() : base.map(b -> realPath(open(b)));
        for (ModelEntry e : group) {
            Path real = realPath(open(e.model()));
            if (basePath.isPresent() && basePath.get().equals(real) && !recipe.isBase(e)) {
                throw new MergestreamException(recipe.path() + ": " + Recipe.keyPathOf(e) + ": '" + e.model()
                        + "' is base_model '" + base.orElseThrow() + "' written another way (both are " + real
                        + "): write it as '" + base.orElseThrow() + "'");
            }
            ModelEntry earlier = seen.putIfAbsent(real, e);
            if (earlier != null) {
                throw new MergestreamException(recipe.path() + ": " + Recipe.keyPathOf(e) + ": '" + e.model()
                        + "' is the same model as " + Recipe.keyPathOf(earlier) + " '" + earlier.model()
                        + "' (both are " + real + "): it would be merged twice");
            }
        }
    }

    private static Path realPath(ModelInput m) {
        try {
            return m.checkpoint().location().toRealPath();
        } catch (IOException e) {
            return m.checkpoint().location().toAbsolutePath().normalize();
        }
    }

    /**
     * What the run will read after the tensors: config.json must parse as a JSON object (else the run would fail
     * only once every tensor is written); a missing one is a warning, and the output has none.
     */
    private void checkConfig(Path configSource) {
        Path config = configSource.resolve(ModelFiles.CONFIG);
        if (!Files.isRegularFile(config)) {
            Warnings.warn(configSource + ": has no " + ModelFiles.CONFIG + ", so the output will have"
                    + " none (transformers needs one to load the model: copy it in afterwards)");
            return;
        }
        if (!(Json.read(config) instanceof ObjectNode)) {
            throw new FormatException(config, "is not a JSON object");
        }
    }

    /**
     * An {@code exclude:} regex that matches no tensor of any input (nor an output name) is most likely a typo, and
     * the tensors it meant are merged: a warning naming it.
     */
    private void warnUnmatchedExcludes(List<TensorJob> jobs) {
        List<Pattern> patterns = recipe.exclude();
        for (int i = 0; i < patterns.size(); i++) {
            Pattern p = patterns.get(i);
            boolean matched = jobs.stream().anyMatch(j -> p.matcher(j.name()).lookingAt())
                    || opened.values().stream().flatMap(c -> c.tensors().stream())
                            .anyMatch(t -> p.matcher(t.name()).lookingAt());
            if (!matched) {
                Warnings.warn(recipe.path() + ": exclude[" + i + "]: '" + p.pattern() + "' matches no"
                        + " tensor (regexes match the start of tensor names): nothing is excluded by it");
            }
        }
    }

    /** The model's tensor; a missing {@code lm_head.weight} falls back to the tied input embedding. */
    StoredTensor find(ModelInput m, String name) {
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

    DType outDtype(DType source) {
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

    static int countLayers(Checkpoint c) {
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
        String source = recipe.vocabularyMerge().map(s -> s.source()).orElse("base");
        if (source.equals("base") || source.equals("union")) return fallback;
        Path p = recipe.resolveModelPath(source);
        if (!Files.isDirectory(p)) {
            throw new MergestreamException(recipe.path() + ": tokenizer_source: model '" + source + "' not found");
        }
        return p;
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
}
