package io.mergestream.recipe;

import io.mergestream.MergestreamException;
import io.mergestream.format.HubCache;
import io.mergestream.format.ModelLocator;
import io.mergestream.tensor.DType;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A validated mergekit recipe. Everything that can be checked without opening a checkpoint has been:
 * the method and its parameters, types and ranges, the base model, duplicates, dtypes, the seed and the
 * {@code exclude} regexes. Load one with {@link #load(Path)}.
 *
 * @param method           the merge method ({@link MethodSpec#name()} is {@code merge_method} as written)
 * @param baseModel        {@code base_model} as written
 * @param models           the {@code models:} entries in recipe order (the base may be among them); empty
 *                         when the recipe gives {@code slices:} instead
 * @param slices           the {@code slices:} entries in recipe order, or empty
 * @param parameters       the global {@code parameters:} block
 * @param seed             the DARE mask seed, a 64-bit unsigned integer held in a long's bits
 *                         (print it with {@link Long#toUnsignedString(long)}); 0 by default
 * @param tokenizerSource  {@code tokenizer_source} ({@code base}, {@code union} or a model; the legacy
 *                         {@code model:PATH} is given as {@code PATH})
 * @param tokenizer        the {@code tokenizer:} block (never together with {@code tokenizer_source})
 * @param chatTemplate     {@code chat_template} as written: {@code auto}, a built-in template's name or a Jinja
 *                         template (validated, see {@link io.mergestream.format.ChatTemplates})
 * @param exclude          regexes anchored at the start of tensor names, see {@link #isExcluded(String)}
 * @param yaml             the recipe text exactly as read, for the output's model card
 * @param path             the recipe file
 */
public record Recipe(
        MethodSpec method,
        Optional<String> baseModel,
        List<ModelEntry> models,
        List<OutputSlice> slices,
        Parameters parameters,
        Optional<DType> dtype,
        Optional<DType> outDtype,
        Optional<String> tokenizerSource,
        Optional<TokenizerSettings> tokenizer,
        Optional<String> chatTemplate,
        long seed,
        List<Pattern> exclude,
        String yaml,
        Path path) {

    public Recipe {
        models = List.copyOf(models);
        slices = List.copyOf(slices);
        exclude = List.copyOf(exclude);
    }

    /**
     * Reads and validates a recipe file; every problem is a one-line {@link io.mergestream.MergestreamException}.
     * What mergekit accepts and ignores (unknown keys, parameters the method does not use) is reported through
     * {@link io.mergestream.Warnings}, one line each naming the key path.
     */
    public static Recipe load(Path file) {
        return load(file, false);
    }

    /** As {@link #load(Path)}; with {@code strict} every warning is an error with the same text ({@code --strict}). */
    public static Recipe load(Path file, boolean strict) {
        return RecipeParser.parse(file, strict);
    }

    /** Validates recipe text as if read from {@code file} (which names it in errors and anchors relative paths). */
    public static Recipe parse(String yaml, Path file) {
        return parse(yaml, file, false);
    }

    /** As {@link #parse(String, Path)}, with warnings turned into errors when {@code strict}. */
    public static Recipe parse(String yaml, Path file, boolean strict) {
        return RecipeParser.parse(yaml, file, strict);
    }

    /**
     * The vocabulary merge the recipe asks for: the {@code tokenizer:} block, or {@code tokenizer_source} other
     * than {@code base} as a block with that source. Empty when the base's vocabulary is used by position (the
     * default, and {@code tokenizer_source: base}): no tokenizer file is read then.
     */
    public Optional<TokenizerSettings> vocabularyMerge() {
        if (tokenizer.isPresent()) return tokenizer;
        return tokenizerSource.filter(s -> !s.equals("base")).map(TokenizerSettings::ofSource);
    }

    public String methodName() {
        return method.name();
    }

    /** True if the entry is the base model: of its slice (a slice's own {@code base_model} wins), else the recipe's. */
    public boolean isBase(ModelEntry entry) {
        Optional<String> base = sliceOf(entry).map(this::baseModelOf).orElse(baseModel);
        return base.filter(entry.model()::equals).isPresent();
    }

    /** The slice's base model: its own {@code base_model}, else the recipe's (mergekit's rule). */
    public Optional<String> baseModelOf(OutputSlice slice) {
        return slice.baseModel().or(() -> baseModel);
    }

    /** The slice a {@code sources:} entry belongs to; empty for {@code models:} entries and the base entry. */
    public Optional<OutputSlice> sliceOf(ModelEntry entry) {
        return slices.stream().filter(s -> s.entries().contains(entry)).findFirst();
    }

    /** The {@code models} entries other than the base model, in recipe order. */
    public List<ModelEntry> fineTunes() {
        return models.stream().filter(m -> !isBase(m)).toList();
    }

    /**
     * The position of a fine-tune among the non-base models in recipe order: the model ordinal {@code m} of
     * the DARE mask (spec/dare-mask.md).
     */
    public int fineTuneIndex(ModelEntry entry) {
        int i = fineTunes().indexOf(entry);
        if (i < 0) throw new IllegalArgumentException("'" + entry.model() + "' is not a fine-tune of this recipe");
        return i;
    }

    /** The models the method combines, from the {@code models:} list: see {@link #mergedModels(List)}. */
    public List<ModelEntry> mergedModels() {
        return mergedModels(models);
    }

    /**
     * The models the method combines out of a group of entries ({@code models:}, or one slice's sources): the
     * ones other than the base for methods that keep the base apart (the task-arithmetic family, the
     * reference and optional-delta methods); every entry for linear (as in mergekit, a listed base is averaged
     * like any other model); every entry plus an unlisted base for the methods that average the base too
     * (with {@code models:} only: a slice has no layers of a model that is not among its sources).
     */
    public List<ModelEntry> mergedModels(List<ModelEntry> group) {
        return switch (method.base()) {
            case DELTAS, REFERENCE, OPTIONAL_DELTAS -> group.stream().filter(m -> !isBase(m)).toList();
            case LISTED_ONLY -> group;
            case MERGED -> baseModel.isEmpty() || !slices.isEmpty() || group.stream().anyMatch(this::isBase) ? group
                    : Stream.concat(group.stream(), Stream.of(baseEntry())).toList();
        };
    }

    /** The groups of entries merged together: the {@code models:} list, or each slice's sources. */
    public List<List<ModelEntry>> groups() {
        return slices.isEmpty() ? List.of(models) : slices.stream().map(OutputSlice::entries).toList();
    }

    /** Where an entry sits in the recipe ({@code models[1]}, {@code slices[0].sources[2]}), for messages. */
    public static String keyPathOf(ModelEntry entry) {
        String p = entry.parameters().keyPath();
        return p.endsWith(".parameters") ? p.substring(0, p.length() - ".parameters".length()) : p;
    }

    /** {@code base_model} as an entry without parameters, for methods that merge it like the listed models. */
    public ModelEntry baseEntry() {
        String base = baseModel.orElseThrow(() -> new IllegalStateException("the recipe has no base_model"));
        return new ModelEntry(base, Parameters.none("base_model.parameters"));
    }

    /** Resolves a model's parameters: its own, then its slice's, then the global ones, then the method's defaults. */
    public ParameterResolver parametersFor(ModelEntry entry) {
        Optional<OutputSlice> slice = sliceOf(entry);
        boolean known = slice.isPresent() || models.contains(entry)
                || entry.equals(baseModel.map(b -> baseEntry()).orElse(null));
        if (!known) throw new IllegalArgumentException("'" + entry.model() + "' is not in this recipe");
        return new ParameterResolver(method, Optional.of(entry), levels(slice), errors());
    }

    /** Resolves merge-wide parameters (normalize, lambda, rescale, sign_election, t ...): global, then defaults. */
    public ParameterResolver mergeParameters() {
        return new ParameterResolver(method, Optional.empty(), parameters, errors());
    }

    /** Merge-wide parameters for the layers of {@code slice}: the slice's own, then global, then defaults. */
    public ParameterResolver mergeParameters(OutputSlice slice) {
        return new ParameterResolver(method, Optional.empty(), levels(Optional.of(slice)), errors());
    }

    private List<Parameters> levels(Optional<OutputSlice> slice) {
        return slice.map(s -> List.of(s.parameters(), parameters)).orElse(List.of(parameters));
    }

    /** True if the tensor is taken from the base unchanged: some {@code exclude} regex matches its start. */
    public boolean isExcluded(String tensorName) {
        return exclude.stream().anyMatch(p -> p.matcher(tensorName).lookingAt());
    }

    /**
     * Linear with {@code normalize} and multislerp with {@code normalize_weights} divide by the sum of the weights;
     * a zero sum is a recipe error (mergekit writes inf or NaN). Checked at load time when no weight depends on
     * the tensor; the planner calls this per tensor otherwise, with the tensor's slice (null for {@code models:})
     * and gradient position {@code t}. Sums below 1e-8 in magnitude count as zero, as the task-arithmetic divisor
     * does.
     */
    public void checkWeightSum(OutputSlice slice, List<ModelEntry> merged, String tensorName, double t) {
        String flag = switch (method.name()) {
            case "linear" -> "normalize";
            case "multislerp" -> "normalize_weights";
            default -> null;
        };
        if (flag == null || merged.size() < (flag.equals("normalize") ? 1 : 2)) return; // a lone multislerp input is copied
        ParameterResolver merge = slice == null ? mergeParameters() : mergeParameters(slice);
        if (!merge.resolveBoolean(flag, tensorName)) return;
        double sum = 0;
        double largest = 0;
        for (ModelEntry m : merged) {
            double w = parametersFor(m).resolveNumberAt("weight", tensorName, t);
            sum += w;
            largest = Math.max(largest, Math.abs(w));
        }
        String tensor = tensorName.isEmpty() ? "" : " for tensor '" + tensorName + "'";
        KeyPath where = slice == null ? KeyPath.root().key("models") : new KeyPath(slice.keyPath()).key("sources");
        if (Math.abs(sum) < 1e-8) {
            throw errors().at(where, "the weights sum to " + sum + tensor + " and " + method.name() + " with " + flag
                    + " divides by that sum: change a weight or set " + flag + ": false");
        }
        if (!Float.isFinite((float) (largest / Math.abs(sum)))) {
            // each weight is finite, but divided by a tiny sum it is not, in the f32 the kernels compute in
            throw errors().at(where, "a weight divided by the weights' sum " + sum + tensor + " is not finite as a"
                    + " 32-bit float: change the weights or set " + flag + ": false");
        }
    }

    /**
     * Where a model lives ({@link ModelLocator}'s one rule): an absolute path as is; a relative one against the
     * current directory if it exists there, else against the recipe's directory (so a recipe next to its models
     * runs from anywhere); else, for a hub id ({@code ORG/NAME}, {@code NAME}, with an optional
     * {@code @REVISION}), its snapshot in the local Hugging Face cache. When none exists the current-directory
     * path is returned (see {@link #locateModel} for the reason).
     */
    public Path resolveModelPath(String model) {
        return resolveModelPath(model, Path.of("").toAbsolutePath(), HubCache.current());
    }

    Path resolveModelPath(String model, Path currentDirectory) {
        return resolveModelPath(model, currentDirectory, HubCache.current());
    }

    Path resolveModelPath(String model, Path currentDirectory, HubCache cache) {
        return ModelLocator.find(model, anchors(currentDirectory), cache).path();
    }

    /**
     * The model to open: {@link #resolveModelPath}'s path, or a one-line {@link MergestreamException} naming
     * the recipe, the model and what is missing (a local path, a hub id not in the cache with the command that
     * would download it, a cache snapshot missing a shard).
     */
    public Path locateModel(String model) {
        return locateModel(model, Path.of("").toAbsolutePath(), HubCache.current());
    }

    Path locateModel(String model, Path currentDirectory, HubCache cache) {
        return ModelLocator.locate(model, anchors(currentDirectory), cache, path + ": model '" + model + "'");
    }

    private List<Path> anchors(Path currentDirectory) {
        Path recipeDir = path.toAbsolutePath().getParent();
        return recipeDir == null ? List.of(currentDirectory) : List.of(currentDirectory, recipeDir);
    }

    private RecipeErrors errors() {
        return new RecipeErrors(path.toString());
    }
}
