package io.mergestream.format.peft;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.format.FormatException;
import io.mergestream.format.Json;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A PEFT {@code adapter_config.json} of a LoRA adapter, as far as merging needs it: rank and alpha (and their
 * per-module {@code rank_pattern} / {@code alpha_pattern}), rsLoRA, {@code fan_in_fan_out}, {@code target_modules}
 * and the base model's name. Other PEFT types and DoRA are refused: their merged weights are not {@code W + s·B·A}.
 *
 * <p>Matching follows PEFT (peft/tuners/tuners_utils.py {@code check_target_module_exists}, peft/utils/other.py
 * {@code get_pattern_key}): a list of target modules matches a module name equal to an entry or ending in
 * {@code "." + entry}; a string is a regex that must match the whole name ({@code re.fullmatch}); a pattern key of
 * {@code rank_pattern}/{@code alpha_pattern} applies to a module whose name matches {@code (.*\.)?(KEY)$}, the first
 * such key in the file's order winning.
 */
record AdapterConfig(Path file, int rank, double alpha, boolean rsLora, boolean fanInFanOut, List<String> targetList,
                     Pattern targetRegex, boolean allLinear, Map<String, Integer> rankPattern,
                     Map<String, Double> alphaPattern, Optional<String> baseModel) {

    static AdapterConfig read(Path file) {
        JsonNode c = Json.read(file);
        if (c == null || !c.isObject()) throw new FormatException(file, "is not a JSON object");
        String type = c.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw new FormatException(file, "peft_type '" + type + "' is not supported: mergestream merges LoRA adapters"
                    + " only (their fine-tuned weight is W + s·B·A)");
        }
        if (c.path("use_dora").asBoolean(false)) {
            throw new FormatException(file, "use_dora: true (a DoRA adapter) is not supported: DoRA rescales every"
                    + " column of W + s·B·A by a learned magnitude, which mergestream does not compute");
        }
        int r = positiveInt(file, c, "r");
        if (!c.path("lora_alpha").isNumber()) throw new FormatException(file, "lora_alpha is missing or not a number");
        double alpha = c.get("lora_alpha").asDouble();
        JsonNode t = c.path("target_modules");
        List<String> list = null;
        Pattern regex = null;
        boolean allLinear = false;
        if (t.isArray()) {
            list = new ArrayList<>();
            for (JsonNode e : t) list.add(e.asText());
        } else if (t.isTextual() && t.asText().equals("all-linear")) {
            allLinear = true;
        } else if (t.isTextual()) {
            try {
                regex = Pattern.compile(t.asText());
            } catch (PatternSyntaxException e) {
                throw new FormatException(file, "target_modules '" + t.asText() + "' is not a valid regex: " + e.getDescription());
            }
        } else {
            throw new FormatException(file, "target_modules must be a list of module names or a regex");
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        c.path("rank_pattern").properties().forEach(e -> {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 1) {
                throw new FormatException(file, "rank_pattern '" + e.getKey() + "' is not a positive integer");
            }
            ranks.put(e.getKey(), e.getValue().asInt());
        });
        Map<String, Double> alphas = new LinkedHashMap<>();
        c.path("alpha_pattern").properties().forEach(e -> {
            if (!e.getValue().isNumber()) throw new FormatException(file, "alpha_pattern '" + e.getKey() + "' is not a number");
            alphas.put(e.getKey(), e.getValue().asDouble());
        });
        JsonNode base = c.path("base_model_name_or_path");
        return new AdapterConfig(file, r, alpha, c.path("use_rslora").asBoolean(false),
                c.path("fan_in_fan_out").asBoolean(false), list, regex, allLinear, ranks, alphas,
                base.isTextual() && !base.asText().isEmpty() ? Optional.of(base.asText()) : Optional.empty());
    }

    private static int positiveInt(Path file, JsonNode c, String key) {
        JsonNode n = c.path(key);
        if (!n.canConvertToInt() || n.asInt() < 1) throw new FormatException(file, key + " is missing or not a positive integer");
        return n.asInt();
    }

    /** Whether {@code target_modules} names module {@code m} (its name in the base model, e.g. model.layers.0.self_attn.q_proj). */
    boolean targets(String m) {
        if (allLinear) return !m.equals("lm_head") && !m.endsWith(".lm_head");
        if (targetRegex != null) return targetRegex.matcher(m).matches();
        for (String t : targetList) if (m.equals(t) || m.endsWith("." + t)) return true;
        return false;
    }

    /** The rank of module {@code m}: its {@code rank_pattern} entry, else {@code r}. */
    int rankOf(String m) {
        return pattern(rankPattern, m).orElse(rank);
    }

    /** The alpha of module {@code m}: its {@code alpha_pattern} entry, else {@code lora_alpha}. */
    double alphaOf(String m) {
        return pattern(alphaPattern, m).orElse(alpha);
    }

    /** PEFT's scaling of module {@code m}: alpha / r, or alpha / sqrt(r) with rsLoRA (in double, then to f32 once). */
    float scaleOf(String m) {
        int r = rankOf(m);
        double a = alphaOf(m);
        return (float) (rsLora ? a / Math.sqrt(r) : a / r);
    }

    private static <T> Optional<T> pattern(Map<String, T> patterns, String m) {
        for (Map.Entry<String, T> e : patterns.entrySet()) {
            if (Pattern.compile("(.*\\.)?(" + e.getKey() + ")").matcher(m).matches()) return Optional.of(e.getValue());
        }
        return Optional.empty();
    }

    String describeTargets() {
        return allLinear ? "all-linear" : targetRegex != null ? "'" + targetRegex.pattern() + "'" : targetList.toString();
    }
}
