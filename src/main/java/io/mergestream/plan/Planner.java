package io.mergestream.plan;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.FormatException;
import io.mergestream.format.Json;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.format.pack.PackFile;
import io.mergestream.format.pack.PackModel;
import io.mergestream.format.peft.LoraModel;
import io.mergestream.kernel.Kernels;
import io.mergestream.method.MergeMethod;
import io.mergestream.method.TensorParams;
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
    private final Map<Path, InputModel> opened = new HashMap<>();
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
            p.opened.values().forEach(InputModel::close);
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

        ModelInput referenceModel = separateBase != null ? separateBase : models.get(0);
        InputModel reference = referenceModel.checkpoint();
        checkFp8OutDtype(base, models);
        vocabulary = vocabularyPlan(base, models, reference);
        int numLayers = countLayers(reference);
        // held compactly (PlannedJobs): an MoE's 300,000 jobs as records do not fit the launcher's heap
        List<TensorJob> jobs = new PlannedJobs(reference, models.stream().map(ModelInput::checkpoint).toList());
        for (TensorSource stored : reference.tensors()) {
            String name = stored.name();
            if (InputTensors.isFp8Scale(reference, name)) continue;
            TensorSource t = readable(referenceModel, stored);
            List<TensorSource> inputs = new ArrayList<>();
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
        return recipe.method().implementation();
    }

    MergePlan plan(MergeMethod method, ModelInput base, List<ModelInput> models, List<TensorJob> jobs,
                   Path configSource, InputModel reference, OptionalInt outputLayers) {
        checkConfig(configSource);
        warnUnmatchedExcludes(jobs);
        DType configDtype = recipe.outDtype().or(recipe::dtype).orElseGet(() -> dominantDtype(reference));
        return new MergePlan(recipe, method, seed, base, models, jobs instanceof PlannedJobs ? jobs : List.copyOf(jobs),
                configDtype, configSource,
                tokenizerSource(configSource), outputLayers, vocabulary);
    }

    /**
     * Opens a model of the recipe: a checkpoint directory; a PEFT LoRA adapter directory (the fine-tune
     * {@code W + s·B·A} over its base: {@code base_model_name_or_path} when that is a local directory, else the
     * recipe's {@code base_model}); or mergekit's {@code BASE+ADAPTER}. Each directory is opened once.
     */
    ModelInput open(String model) {
        int plus = model.indexOf('+');
        if (plus > 0 && plus < model.length() - 1 && !Files.exists(recipe.resolveModelPath(model))) {
            String baseName = model.substring(0, plus);
            InputModel b = openModel(baseName);
            return new ModelInput(model, adapter(model, model.substring(plus + 1), b));
        }
        return new ModelInput(model, openModel(model));
    }

    private InputModel openModel(String model) {
        Path path = existing(model);
        Path key = path.toAbsolutePath().normalize();
        InputModel m = opened.get(key);
        if (m != null) return m;
        if (LoraModel.isAdapter(path)) {
            String baseName = LoraModel.declaredBase(path).filter(b -> Files.isDirectory(recipe.resolveModelPath(b)))
                    .orElseGet(() -> recipe.baseModel().orElseThrow(() -> new MergestreamException(recipe.path()
                            + ": model '" + model + "' is a LoRA adapter whose base_model_name_or_path '"
                            + LoraModel.declaredBase(path).orElse("") + "' is not a local directory, and the recipe has no"
                            + " base_model to apply it to (name it as BASE+ADAPTER, or set base_model)")));
            if (existing(baseName).toAbsolutePath().normalize().equals(key)) {
                throw new MergestreamException(recipe.path() + ": model '" + model + "' is an adapter of itself");
            }
            InputModel b = openModel(baseName);
            m = LoraModel.open(path, b, recipe.path() + ": model '" + model + "'");
        } else if (PackFile.isPack(path)) {
            // a delta pack stands for the fine-tune it encodes, over the recipe's base (docs/mspack.md)
            String baseName = recipe.baseModel().orElseThrow(() -> new MergestreamException(recipe.path() + ": model '"
                    + model + "' is a delta pack, which needs the recipe's base_model (the base it was packed against)"));
            m = ApplyPlanner.openPack(path, openModel(baseName), baseName, Kernels.best(), null);
        } else {
            m = Checkpoint.open(path);
        }
        opened.put(key, m);
        return m;
    }

    private InputModel adapter(String model, String adapterName, InputModel base) {
        Path path = existing(adapterName);
        if (!LoraModel.isAdapter(path)) {
            throw new MergestreamException(recipe.path() + ": model '" + model + "': '" + adapterName
                    + "' is not a PEFT adapter directory (no adapter_config.json)");
        }
        Path key = path.toAbsolutePath().normalize().resolve("+" + base.location().toAbsolutePath().normalize());
        return opened.computeIfAbsent(key, k -> LoraModel.open(path, base, recipe.path() + ": model '" + model + "'"));
    }

    /** The model's path: a local directory, else the Hugging Face cache; a one-line error naming what is missing otherwise. */
    private Path existing(String model) {
        return recipe.locateModel(model);
    }

    /**
     * The job for output tensor {@code name}: {@code source} is the tensor copied when the inputs are empty
     * (the tensor is excluded or not a float), {@code base} the base's tensor for methods that keep the base
     * apart (else null), {@code inputs} the merged models' tensors. The task-arithmetic family works on the base's shape; the others on the common sub-matrix of all
     * inputs when vocabulary sizes differ, as mergekit truncates.
     */
    TensorJob job(String name, TensorSource source, TensorSource base, List<ModelInput> models,
                  List<TensorSource> inputs, List<ModelEntry> entries, double position, OutputSlice slice) {
        if (recipe.isExcluded(name) || !source.info().dtype().isMergeable() || (inputs.isEmpty() && base == null)) {
            return TensorJob.copy(name, outDtype(source.info().dtype()), source);
        }
        TensorSource first = base != null ? base : inputs.get(0);
        String where = base != null ? "in the base" : "in " + models.get(0).name();
        long[] shape = first.info().shape();
        for (int j = 0; j < inputs.size(); j++) {
            TensorSource t = inputs.get(j);
            checkMergeable(models.get(j), t);
            if (first.info().sameShape(t.info().shape())) continue;
            if (!(isVocabulary(name) && sameButRows(first.info(), t.info()))) {
                throw shapeMismatch(models.get(j), t, first.info().shapeString() + " " + where);
            }
            // the task-arithmetic family keeps the base's rows; the others the common sub-matrix, as mergekit
            if (!recipe.method().needsBase()) shape[0] = Math.min(shape[0], t.info().dim(0));
        }
        recipe.checkWeightSum(slice, entries, name, position);
        DType outDtype = outDtype(first.info().dtype());
        if (vocabulary != null && vocabulary.remaps(name)) {
            // the planner's source choice: each participant's rows rebuilt onto the output vocabulary
            if (base != null) base = vocabulary.source(name, vocabulary.baseParticipant());
            List<TensorSource> remapped = new ArrayList<>();
            for (int j = 0; j < inputs.size(); j++) remapped.add(vocabulary.source(name, vocabulary.modelParticipant(j)));
            inputs = remapped;
        }
        TensorParams params = JobParameters.resolve(recipe, slice, seed, name, entries, position);
        if (method().drawsDareMask()) {
            // a pack drawn with this very mask is read as its kept delta: nothing is dropped twice
            List<TensorSource> own = new ArrayList<>();
            for (int j = 0; j < inputs.size(); j++) {
                own.add(PackModel.forDareMask(inputs.get(j), params.densities()[j], params.seed(), params.ordinals()[j]));
            }
            inputs = own;
        }
        return new TensorJob(name, outDtype, vocabularyShape(name, shape), TensorJob.Kind.MERGE, null, base,
                List.copyOf(inputs), params);
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

    /** The model's tensor as the kernels read it ({@link InputTensors#find}: tied lm_head, F64/FP8 decoded). */
    TensorSource find(ModelInput m, String name) {
        TensorSource t = InputTensors.find(m.checkpoint(), name, () -> recipe.path() + ": model '" + m.name() + "'");
        if (t == null) {
            throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' has no tensor '" + name
                    + "' (add a regex matching it to exclude: to take it from the base)");
        }
        return t;
    }

    /** A stored tensor of the model as the kernels read it (F64 and FP8 decoded). */
    TensorSource readable(ModelInput m, TensorSource t) {
        return InputTensors.readable(m.checkpoint(), t, () -> recipe.path() + ": model '" + m.name() + "'");
    }

    private void checkMergeable(ModelInput m, TensorSource t) {
        if (!t.info().dtype().isMergeable()) {
            throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' tensor '" + t.name() + "' is "
                    + t.info().dtype() + ", which cannot be merged (only float tensors can: F32, F16, BF16, F64, FP8)");
        }
    }

    /**
     * FP8 inputs are decoded with their scales and cannot be written back as FP8: the recipe must name the output
     * dtype (bf16, f16 or f32: {@code out_dtype}, or {@code dtype}).
     */
    void checkFp8OutDtype(ModelInput base, List<ModelInput> models) {
        if (recipe.outDtype().or(recipe::dtype).isPresent()) return;
        List<ModelInput> all = new ArrayList<>(models);
        if (base != null) all.add(0, base);
        for (ModelInput m : all) {
            if (InputTensors.hasFp8(m.checkpoint())) {
                throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' holds FP8 tensors, which are"
                        + " merged decoded with their scales: set out_dtype: bfloat16 (or float16, float32) for the output");
            }
        }
    }

    private MergestreamException shapeMismatch(ModelInput m, TensorSource t, String expected) {
        return new MergestreamException(recipe.path() + ": model '" + m.name() + "' tensor '" + t.name()
                + "' has shape " + t.info().shapeString() + " but " + expected
                + " (add a regex matching it to exclude: to take it from the base)");
    }

    /** Fine-tune tensors the base lacks cannot be merged: they must be excluded explicitly. */
    private void checkNoExtraTensors(InputModel base, List<ModelInput> models) {
        for (ModelInput m : models) {
            for (TensorSource t : m.checkpoint().tensors()) {
                if (!base.contains(t.name()) && !recipe.isExcluded(t.name())
                        && !InputTensors.isFp8Scale(m.checkpoint(), t.name())) {
                    throw new MergestreamException(recipe.path() + ": model '" + m.name() + "' tensor '" + t.name()
                            + "' is missing from the base model (add a regex matching it to exclude: to leave it out)");
                }
            }
        }
    }

    /**
     * The output dtype of a tensor whose inputs the kernels read as {@code source}: the recipe's {@code out_dtype} (or
     * {@code dtype}), else the input's own. F64 and FP8 inputs are read as F32, so an F64 family is written in F32
     * unless the recipe says otherwise (merges compute in f32: see docs/merge-semantics.md, Dtypes).
     */
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

    static int countLayers(InputModel c) {
        int max = -1;
        for (TensorSource t : c.tensors()) {
            OptionalInt l = ParameterResolver.layerIndex(t.name());
            if (l.isPresent()) max = Math.max(max, l.getAsInt());
        }
        return max + 1;
    }

    /** The dtype holding most of the checkpoint's bytes: config.json's torch_dtype when none is asked for. */
    static DType dominantDtype(InputModel c) {
        Map<DType, Long> bytes = new HashMap<>();
        for (TensorSource t : c.tensors()) bytes.merge(t.info().dtype(), t.info().byteSize(), Long::sum);
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
    private VocabularyPlan vocabularyPlan(ModelInput base, List<ModelInput> models, InputModel reference) {
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
        Map<String, List<TensorSource>> tensors = new LinkedHashMap<>();
        for (TensorSource stored : reference.tensors()) {
            TensorSource t = InputTensors.readable(reference, stored, () -> recipe.path() + ": the reference model");
            if (!isVocabulary(t.name())) continue;
            if (recipe.isExcluded(t.name()) || !t.info().dtype().isMergeable() || t.info().rank() == 0) {
                throw new MergestreamException(recipe.path() + ": tensor '" + t.name() + "' holds the vocabulary, which"
                        + " the tokenizer source rebuilds, so it cannot be excluded or copied (remove it from exclude:)");
            }
            List<TensorSource> per = new ArrayList<>();
            for (ModelInput p : participants) {
                TensorSource x = find(p, t.name());
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
