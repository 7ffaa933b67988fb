package io.mergestream.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.MergestreamException;
import io.mergestream.format.ChatTemplates;
import io.mergestream.tensor.DType;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Turns a mergekit YAML recipe into a {@link Recipe}, checking its structure key by key. The YAML is read
 * into a tree ({@link RecipeYaml}) and validated by hand (not bound to classes) so that every error can name the
 * key path. Lenient where mergekit is: what it accepts and ignores (unknown keys, parameters a method does not
 * use) is a warning naming the key path, an error when strict; what it rejects is an error. Cross-field rules
 * (base model, duplicates, weights) are in {@link RecipeChecks}.
 */
final class RecipeParser {

    private static final List<String> KEYS = List.of("merge_method", "models", "slices", "base_model", "parameters",
            "dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "seed", "exclude");
    /** mergekit keys that a later version of mergestream will implement. */
    private static final List<String> KEYS_NOT_SUPPORTED_YET = List.of("modules");
    private static final List<String> MODEL_KEYS = List.of("model", "parameters");
    private static final BigInteger MAX_SEED = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    /** No recipe is near this size; a larger file is refused before it is read into memory. */
    private static final long MAX_RECIPE_BYTES = 4L * RecipeYaml.MAX_CODE_POINTS;
    /** mergekit's tokenizer_source once took {@code model:PATH}; it dropped the prefix in 2024 (now just PATH). */
    private static final String LEGACY_MODEL_PREFIX = "model:";

    private final RecipeErrors errors;
    private final SettingParser settings;

    private RecipeParser(RecipeErrors errors) {
        this.errors = errors;
        this.settings = new SettingParser(errors);
    }

    static Recipe parse(Path file, boolean strict) {
        // A FIFO or /dev/zero given as the recipe would hang or fill the heap: a regular file of bounded size only.
        io.mergestream.InputFiles.requireReadable(file, "recipe", io.mergestream.InputFiles.MAX_RECIPE_BYTES);
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_RECIPE_BYTES) {
                throw new RecipeErrors(file.toString()).at(KeyPath.root(), "is " + size + " bytes, too large for a recipe"
                        + " (at most " + MAX_RECIPE_BYTES + ")");
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new MergestreamException(file + ": cannot read the recipe: " + e, e);
        }
        return parse(text, file, strict);
    }

    static Recipe parse(String yaml, Path file, boolean strict) {
        RecipeErrors errors = new RecipeErrors(file.toString(), strict);
        Recipe recipe = new RecipeParser(errors).read(yaml, file);
        RecipeChecks.check(recipe, errors);
        return recipe;
    }

    private Recipe read(String yaml, Path file) {
        JsonNode root = tree(yaml);
        if (root.has("modules")) {
            throw errors.at(KeyPath.root().key("modules"), "modules: (multi-module architectures, e.g. a vision tower"
                    + " and a language model merged apart) needs architecture definitions, which mergestream does not"
                    + " have yet: merge with models: or slices: instead");
        }
        MethodSpec method = MethodCatalog.lookup(
                text(required(root, KeyPath.root(), "merge_method"), KeyPath.root().key("merge_method")), errors);
        checkTopLevelKeys(root, method);
        boolean sliced = optional(root, "slices").isPresent();
        if (sliced && optional(root, "models").isPresent()) {
            throw errors.at(KeyPath.root().key("slices"), "give either models or slices, not both (as in mergekit)");
        }
        return new Recipe(
                method,
                optional(root, "base_model").map(n -> modelReference(n, KeyPath.root().key("base_model"))),
                sliced ? List.of() : models(root.get("models"), method),
                sliced ? new SliceParser(this, errors).slices(root.get("slices"), method) : List.of(),
                parameters(root.get("parameters"), KeyPath.root().key("parameters"), method, true),
                optional(root, "dtype").map(n -> dtype(n, KeyPath.root().key("dtype"))),
                optional(root, "out_dtype").map(n -> dtype(n, KeyPath.root().key("out_dtype"))),
                optional(root, "tokenizer_source").map(this::tokenizerSource),
                tokenizer(root),
                optional(root, "chat_template").map(this::chatTemplate),
                optional(root, "seed").map(this::seed).orElse(0L),
                optional(root, "exclude").map(this::exclude).orElse(List.of()),
                yaml,
                file);
    }

    /**
     * mergekit ignores keys it does not know (pydantic's default), so a recipe written for it may carry
     * {@code name:}, a misplaced {@code int8_mask:} and the like: each is a warning naming the key.
     */
    private void checkTopLevelKeys(JsonNode root, MethodSpec method) {
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            String key = field.getKey();
            if (KEYS_NOT_SUPPORTED_YET.contains(key)) {
                throw errors.at(KeyPath.root().key(key), "'" + key + "' is not supported yet by mergestream");
            }
            if (KEYS.contains(key)) continue;
            String hint = method.parameter(key).isPresent()
                    ? "; " + key + " is a parameter of " + method.name() + ": put it under parameters:" : "";
            errors.warn(KeyPath.root().key(key), "not a recipe key: ignored, as mergekit ignores it (recipe keys: "
                    + String.join(", ", KEYS) + ")" + hint);
        }
    }

    /**
     * {@code tokenizer_source}: {@code base}, {@code union} or a model; the legacy {@code model:PATH} is read as
     * {@code PATH}.
     */
    private String tokenizerSource(JsonNode node) {
        KeyPath path = KeyPath.root().key("tokenizer_source");
        String source = text(node, path);
        if (source.startsWith(LEGACY_MODEL_PREFIX)) source = source.substring(LEGACY_MODEL_PREFIX.length()).strip();
        if (source.isBlank()) throw errors.at(path, "is empty (base, union or a model)");
        return source;
    }

    /** The {@code tokenizer:} block; together with {@code tokenizer_source} it is ambiguous, so an error. */
    private Optional<TokenizerSettings> tokenizer(JsonNode root) {
        Optional<JsonNode> block = optional(root, "tokenizer");
        if (block.isPresent() && optional(root, "tokenizer_source").isPresent()) {
            throw errors.at(KeyPath.root().key("tokenizer"), "give either tokenizer_source or a tokenizer: block, not both");
        }
        return block.map(n -> TokenizerSettings.parse(n, errors));
    }

    /** {@code chat_template}: auto, a built-in template's name or a literal Jinja template (mergekit's rules). */
    private String chatTemplate(JsonNode node) {
        KeyPath path = KeyPath.root().key("chat_template");
        String value = text(node, path);
        ChatTemplates.problem(value).ifPresent(p -> { throw errors.at(path, p); });
        return value;
    }

    private JsonNode tree(String yaml) {
        JsonNode root = RecipeYaml.read(yaml, errors);
        if (root == null || root.isMissingNode() || root.isNull()) throw errors.at(KeyPath.root(), "the recipe is empty");
        if (!root.isObject()) throw errors.at(KeyPath.root(), "a recipe is a mapping of keys (merge_method, models ...)");
        return root;
    }

    /**
     * Keys of a mapping inside the recipe (a model entry, a slice, a source): as mergekit, unknown ones are
     * ignored, with a warning each; {@code notSupportedYet} are refused.
     */
    void checkKeys(JsonNode node, KeyPath path, List<String> allowed, List<String> notSupportedYet) {
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String key = field.getKey();
            if (notSupportedYet.contains(key)) {
                throw errors.at(path.key(key), "'" + key + "' is not supported yet by mergestream");
            }
            if (!allowed.contains(key)) {
                errors.warn(path.key(key), "unknown key: ignored, as mergekit ignores it (known here: "
                        + String.join(", ", allowed) + ")");
            }
        }
    }

    private List<ModelEntry> models(JsonNode node, MethodSpec method) {
        KeyPath path = KeyPath.root().key("models");
        if (node == null || node.isNull()) throw errors.at(path, "missing (list the models to merge)");
        if (!node.isArray()) throw errors.at(path, "must be a list of models, not " + SettingParser.show(node));
        if (node.isEmpty()) throw errors.at(path, "is empty (list the models to merge)");
        List<ModelEntry> models = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) models.add(model(node.get(i), path.index(i), method));
        return List.copyOf(models);
    }

    /** An entry is {@code {model: PATH, parameters: {...}}} or, as mergekit also accepts, just {@code PATH}. */
    private ModelEntry model(JsonNode node, KeyPath path, MethodSpec method) {
        if (node.isTextual()) {
            return new ModelEntry(modelReference(node, path), Parameters.none(path.key("parameters").text()));
        }
        if (!node.isObject()) throw errors.at(path, "expected {model: PATH, parameters: ...} or a path, not " + SettingParser.show(node));
        checkKeys(node, path, MODEL_KEYS, List.of());
        String model = modelReference(required(node, path, "model"), path.key("model"));
        return new ModelEntry(model, parameters(node.get("parameters"), path.key("parameters"), method, false));
    }

    String modelReference(JsonNode node, KeyPath path) {
        String model = text(node, path);
        if (model.isBlank()) throw errors.at(path, "is empty");
        // BASE+ADAPTER (a LoRA adapter over its base) is resolved where models are opened (plan.Planner.open)
        return model;
    }

    /**
     * A {@code parameters:} block. {@code global}: the top-level or a slice's block, where every parameter of the
     * method may be given; else a model's (or a slice source's), where merge-wide parameters have no effect. A
     * parameter the method does not use is checked as mergekit checks every parameter value (a number, a list of
     * numbers or of {@code {filter, value}} entries), then ignored with a warning, as mergekit ignores it.
     */
    Parameters parameters(JsonNode node, KeyPath path, MethodSpec method, boolean global) {
        if (node == null || node.isNull()) return Parameters.none(path.text());
        if (!node.isObject()) throw errors.at(path, "must be a mapping of parameter names to values");
        Map<String, Setting> values = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String name = field.getKey();
            KeyPath at = path.key(name);
            if (field.getValue().isNull()) throw errors.at(at, "has no value");
            Optional<ParameterDef> def = method.parameter(name);
            if (def.isEmpty()) {
                if (!isWordOfAnotherMethod(name, field.getValue())) settings.checkIgnored(field.getValue(), at);
                List<String> used = global ? method.allParameterNames() : method.modelParameterNames();
                errors.warn(at, method.name() + " does not use " + name + ": ignored, as mergekit ignores it ("
                        + (used.isEmpty() ? method.name() + " takes no " + (global ? "" : "per-model ") + "parameters"
                        : method.name() + " takes " + (global ? "" : "per model: ") + String.join(", ", used)) + ")");
                continue;
            }
            Setting setting = settings.parse(field.getValue(), def.get(), at);
            if (!global && !method.isModelParameter(name)) {
                // mergekit reads merge-wide parameters from the top-level (or slice) block only
                errors.warn(at, name + " applies to the whole merge and is ignored in a model's parameters, as"
                        + " mergekit ignores it there: move it to the top-level parameters");
                continue;
            }
            values.put(name, setting);
        }
        return new Parameters(values, path.text());
    }

    /**
     * mergestream's own word-valued parameters ({@code sign_election: sum}) given to a method without them: the
     * word is valid for the methods that have the parameter, so it is ignored like a number would be.
     */
    private static boolean isWordOfAnotherMethod(String name, JsonNode value) {
        return value.isTextual() && MethodCatalog.supportedNames().stream()
                .flatMap(m -> MethodCatalog.find(m).flatMap(spec -> spec.parameter(name)).stream())
                .anyMatch(def -> def.choices().contains(value.asText()));
    }

    private DType dtype(JsonNode node, KeyPath path) {
        String name = text(node, path);
        return DType.fromUserName(name).filter(DType::isMergeable).orElseThrow(() -> errors.at(path,
                "'" + name + "' is not a float type mergestream computes in (allowed: bfloat16, float16, float32)"));
    }

    /** The DARE mask seed is a 64-bit unsigned integer (spec/dare-mask.md); stored as the same 64 bits in a long. */
    private long seed(JsonNode node) {
        KeyPath path = KeyPath.root().key("seed");
        if (!node.isIntegralNumber()) throw errors.at(path, SettingParser.show(node) + " is not an integer");
        BigInteger seed = node.bigIntegerValue();
        if (seed.signum() < 0 || seed.compareTo(MAX_SEED) > 0) {
            throw errors.at(path, seed + " is outside 0 .. " + MAX_SEED + " (a 64-bit unsigned integer)");
        }
        return seed.longValue();
    }

    /** Regexes matched from the start of the tensor name ({@link java.util.regex.Matcher#lookingAt()}). */
    private List<Pattern> exclude(JsonNode node) {
        KeyPath path = KeyPath.root().key("exclude");
        if (!node.isArray()) throw errors.at(path, "must be a list of regexes, e.g. [\"classifier\\\\.\"]");
        List<Pattern> patterns = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            String regex = text(node.get(i), path.index(i));
            try {
                patterns.add(Pattern.compile(regex));
            } catch (PatternSyntaxException e) {
                throw errors.at(path.index(i), "'" + regex + "' is not a valid regex: " + e.getDescription()
                        + " near index " + e.getIndex());
            }
        }
        return List.copyOf(patterns);
    }

    static Optional<JsonNode> optional(JsonNode parent, String key) {
        return Optional.ofNullable(parent.get(key)).filter(n -> !n.isNull());
    }

    JsonNode required(JsonNode parent, KeyPath parentPath, String key) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) throw errors.at(parentPath.key(key), "missing");
        return node;
    }

    private String text(JsonNode node, KeyPath path) {
        if (!node.isTextual()) throw errors.at(path, "must be a string, not " + SettingParser.show(node));
        return node.asText();
    }
}
