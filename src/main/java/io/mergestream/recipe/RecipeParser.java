package io.mergestream.recipe;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mergestream.MergestreamException;
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
 * into a tree and validated by hand (not bound to classes) so that every error can name the key path.
 * Cross-field rules (base model, duplicates, weights) are in {@link RecipeChecks}.
 */
final class RecipeParser {

    private static final List<String> KEYS = List.of("merge_method", "models", "slices", "base_model", "parameters",
            "dtype", "out_dtype", "tokenizer_source", "tokenizer", "seed", "exclude");
    /** mergekit keys that a later version of mergestream will implement. */
    private static final List<String> KEYS_NOT_SUPPORTED_YET = List.of("modules", "chat_template");
    private static final List<String> MODEL_KEYS = List.of("model", "parameters");
    private static final BigInteger MAX_SEED = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            // a key written twice is almost always an editing slip; PyYAML would silently keep the last one
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final RecipeErrors errors;
    private final SettingParser settings;

    private RecipeParser(RecipeErrors errors) {
        this.errors = errors;
        this.settings = new SettingParser(errors);
    }

    static Recipe parse(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new MergestreamException(file + ": cannot read the recipe: " + e, e);
        }
        return parse(text, file);
    }

    static Recipe parse(String yaml, Path file) {
        RecipeErrors errors = new RecipeErrors(file.toString());
        Recipe recipe = new RecipeParser(errors).read(yaml, file);
        RecipeChecks.check(recipe, errors);
        return recipe;
    }

    private Recipe read(String yaml, Path file) {
        JsonNode root = tree(yaml);
        checkKeys(root, KeyPath.root(), KEYS, KEYS_NOT_SUPPORTED_YET);
        MethodSpec method = MethodCatalog.lookup(
                text(required(root, KeyPath.root(), "merge_method"), KeyPath.root().key("merge_method")), errors);
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
                optional(root, "tokenizer_source").map(n -> text(n, KeyPath.root().key("tokenizer_source"))),
                tokenizer(root),
                optional(root, "seed").map(this::seed).orElse(0L),
                optional(root, "exclude").map(this::exclude).orElse(List.of()),
                yaml,
                file);
    }

    /** The {@code tokenizer:} block; together with {@code tokenizer_source} it is ambiguous, so an error. */
    private Optional<TokenizerSettings> tokenizer(JsonNode root) {
        Optional<JsonNode> block = optional(root, "tokenizer");
        if (block.isPresent() && optional(root, "tokenizer_source").isPresent()) {
            throw errors.at(KeyPath.root().key("tokenizer"), "give either tokenizer_source or a tokenizer: block, not both");
        }
        return block.map(n -> TokenizerSettings.parse(n, errors));
    }

    private JsonNode tree(String yaml) {
        JsonNode root;
        try {
            root = YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            String line = e.getLocation() == null ? "" : "line " + e.getLocation().getLineNr() + ": ";
            throw errors.at(KeyPath.root(), line + "not valid YAML: " + e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode() || root.isNull()) throw errors.at(KeyPath.root(), "the recipe is empty");
        if (!root.isObject()) throw errors.at(KeyPath.root(), "a recipe is a mapping of keys (merge_method, models ...)");
        return root;
    }

    void checkKeys(JsonNode node, KeyPath path, List<String> allowed, List<String> notSupportedYet) {
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String key = field.getKey();
            if (notSupportedYet.contains(key)) {
                throw errors.at(path.key(key), "'" + key + "' is not supported yet by mergestream");
            }
            if (!allowed.contains(key)) {
                throw errors.at(path.key(key), "unknown key (allowed: " + String.join(", ", allowed) + ")");
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

    Parameters parameters(JsonNode node, KeyPath path, MethodSpec method, boolean global) {
        if (node == null || node.isNull()) return Parameters.none(path.text());
        if (!node.isObject()) throw errors.at(path, "must be a mapping of parameter names to values");
        Map<String, Setting> values = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            KeyPath at = path.key(field.getKey());
            ParameterDef def = parameterDef(field.getKey(), at, method, global);
            if (field.getValue().isNull()) throw errors.at(at, "has no value");
            values.put(field.getKey(), settings.parse(field.getValue(), def, at));
        }
        return new Parameters(values, path.text());
    }

    private ParameterDef parameterDef(String name, KeyPath at, MethodSpec method, boolean global) {
        Optional<ParameterDef> def = method.parameter(name);
        if (def.isEmpty()) {
            List<String> allowed = global ? method.allParameterNames() : method.modelParameterNames();
            throw errors.at(at, "unknown parameter for " + method.name() + " (allowed: " + String.join(", ", allowed) + ")");
        }
        if (!global && !method.isModelParameter(name)) {
            // mergekit reads merge-wide parameters only from the global block and silently ignores them here
            throw errors.at(at, name + " applies to the whole merge: move it to the top-level parameters");
        }
        return def.get();
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

    private static Optional<JsonNode> optional(JsonNode parent, String key) {
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
