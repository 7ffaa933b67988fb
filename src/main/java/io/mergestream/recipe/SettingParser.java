package io.mergestream.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.recipe.Setting.Leaf;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Reads one parameter value from the YAML tree in any of mergekit's shapes (scalar, gradient, a
 * {@code {filter, value}} condition or a list of them) and checks every leaf against the parameter's
 * definition, naming the exact position of a bad value ({@code density[0].value[2]}).
 */
final class SettingParser {

    /**
     * YAML 1.1 (PyYAML, SnakeYAML) reads {@code 1e-3} as a string because it lacks a dot. mergekit would then
     * fail deep inside torch; mergestream accepts decimal numbers written as strings instead.
     */
    private static final Pattern DECIMAL = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");

    private final RecipeErrors errors;

    SettingParser(RecipeErrors errors) {
        this.errors = errors;
    }

    Setting parse(JsonNode node, ParameterDef def, KeyPath path) {
        if (node.isObject()) return new Setting.Conditional(List.of(condition(node, def, path)));
        if (node.isArray() && !node.isEmpty() && allObjects(node)) {
            List<Setting.Condition> conditions = new ArrayList<>();
            for (int i = 0; i < node.size(); i++) conditions.add(condition(node.get(i), def, path.index(i)));
            return new Setting.Conditional(conditions);
        }
        return leaf(node, def, path);
    }

    private Setting.Condition condition(JsonNode node, ParameterDef def, KeyPath path) {
        if (!node.isObject()) {
            throw errors.at(path, "expected a {filter, value} entry like the others in this list, not " + show(node));
        }
        JsonNode value = node.get("value");
        boolean hasValue = value != null && !value.isNull();
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            String key = field.getKey();
            if (key.equals("filter") || key.equals("value")) continue;
            // without a value mergekit rejects the condition; the unknown key is then most likely its misspelling
            if (!hasValue) throw errors.at(path.key(key), "unknown key in a condition (allowed: filter, value)");
            errors.warn(path.key(key), "unknown key in a condition: ignored, as mergekit ignores it (allowed: filter, value)");
        }
        if (!hasValue) throw errors.at(path.key("value"), "missing (a condition needs a value)");
        JsonNode filter = node.get("filter");
        if (filter != null && !filter.isNull() && !filter.isTextual()) {
            throw errors.at(path.key("filter"), "must be a substring of tensor names, not " + show(filter));
        }
        Optional<String> filterText = filter == null || filter.isNull() ? Optional.empty() : Optional.of(filter.asText());
        return new Setting.Condition(filterText, leaf(value, def, path.key("value")));
    }

    private Leaf leaf(JsonNode node, ParameterDef def, KeyPath path) {
        if (node.isArray()) return gradient(node, def, path);
        return switch (def.type()) {
            case NUMBER -> new Setting.Scalar(number(node, def, path));
            case BOOLEAN -> flag(node, def, path);
            case CHOICE -> word(node, def, path);
        };
    }

    private Setting.Gradient gradient(JsonNode node, ParameterDef def, KeyPath path) {
        if (def.type() != ParameterDef.Type.NUMBER) {
            throw errors.at(path, def.name() + " takes a single " + expected(def) + ", not a list");
        }
        if (node.isEmpty()) throw errors.at(path, "an empty list is not a value (give a number or a gradient)");
        List<Double> anchors = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) anchors.add(number(node.get(i), def, path.index(i)));
        return new Setting.Gradient(anchors);
    }

    private double number(JsonNode node, ParameterDef def, KeyPath path) {
        double v;
        if (node.isNumber()) {
            v = node.doubleValue();
        } else if (node.isTextual() && DECIMAL.matcher(node.asText().strip()).matches()) {
            v = Double.parseDouble(node.asText().strip());
        } else {
            throw errors.at(path, show(node) + " is not a number");
        }
        if (!def.range().contains(v)) {
            throw errors.at(path, node.asText() + (def.range().equals(ParameterDef.NumberRange.FINITE)
                    ? " is not a finite number" : " is outside " + def.range().describe()));
        }
        checkFiniteAsFloat(v, node, path);
        return v;
    }

    /**
     * The kernels compute in f32, where a weight of 1e39 or a lambda of 1e300 is infinite and the whole output
     * NaN or Inf; no parameter has a meaningful value beyond f32's range, so every recipe number must fit.
     */
    private void checkFiniteAsFloat(double v, JsonNode node, KeyPath path) {
        if (!Float.isFinite((float) v)) {
            throw errors.at(path, node.asText() + " is not finite as a 32-bit float, which mergestream computes in"
                    + " (the largest is " + Float.MAX_VALUE + ")");
        }
    }

    /**
     * A parameter the method does not use: mergekit still validates it as a number, a list of numbers or of
     * {@code {filter, value}} entries (booleans read as 0 and 1), so anything else is an error here too. Numbers
     * must be finite, as everywhere in a recipe.
     */
    void checkIgnored(JsonNode node, KeyPath path) {
        if (node.isObject()) {
            ignoredCondition(node, path);
        } else if (node.isArray() && !node.isEmpty() && allObjects(node)) {
            for (int i = 0; i < node.size(); i++) ignoredCondition(node.get(i), path.index(i));
        } else {
            ignoredValue(node, path);
        }
    }

    private void ignoredCondition(JsonNode node, KeyPath path) {
        JsonNode value = node.get("value");
        if (value == null || value.isNull()) throw errors.at(path.key("value"), "missing (a condition needs a value)");
        JsonNode filter = node.get("filter");
        if (filter != null && !filter.isNull() && !filter.isTextual()) {
            throw errors.at(path.key("filter"), "must be a substring of tensor names, not " + show(filter));
        }
        ignoredValue(value, path.key("value"));
    }

    private void ignoredValue(JsonNode node, KeyPath path) {
        if (node.isArray()) {
            if (node.isEmpty()) throw errors.at(path, "an empty list is not a value (give a number or a gradient)");
            for (int i = 0; i < node.size(); i++) ignoredScalar(node.get(i), path.index(i));
        } else {
            ignoredScalar(node, path);
        }
    }

    private void ignoredScalar(JsonNode node, KeyPath path) {
        if (node.isBoolean()) return;
        double v;
        if (node.isNumber()) {
            v = node.doubleValue();
        } else if (node.isTextual() && DECIMAL.matcher(node.asText().strip()).matches()) {
            v = Double.parseDouble(node.asText().strip());
        } else {
            throw errors.at(path, show(node) + " is not a number, a list of numbers or {filter, value} entries,"
                    + " the values mergekit accepts for a parameter");
        }
        if (!Double.isFinite(v)) throw errors.at(path, node.asText() + " is not a finite number");
        checkFiniteAsFloat(v, node, path);
    }

    private Leaf flag(JsonNode node, ParameterDef def, KeyPath path) {
        if (node.isBoolean()) return new Setting.Flag(node.booleanValue());
        // mergekit reads every parameter as a float and tests its truth, so 0, 1, 0.0 and 1.0 are flags there
        if (node.isNumber() && (node.doubleValue() == 0 || node.doubleValue() == 1)) {
            return new Setting.Flag(node.doubleValue() == 1);
        }
        if (node.isTextual() && def.choices().contains(node.asText())) return new Setting.Word(node.asText());
        if (node.isTextual() && def.notSupportedYet().contains(node.asText())) {
            throw errors.at(path, node.asText() + " is not supported yet by mergestream (use true or false"
                    + (def.choices().isEmpty() ? "" : " or " + String.join(", ", def.choices())) + ")");
        }
        throw errors.at(path, show(node) + " is not true or false"
                + (def.choices().isEmpty() ? "" : " or " + String.join(", ", def.choices())));
    }

    private Setting.Word word(JsonNode node, ParameterDef def, KeyPath path) {
        if (node.isTextual() && def.choices().contains(node.asText())) return new Setting.Word(node.asText());
        throw errors.at(path, show(node) + " is not one of " + String.join(", ", def.choices()));
    }

    private static String expected(ParameterDef def) {
        return switch (def.type()) {
            case NUMBER -> "number";
            case BOOLEAN -> "true or false" + (def.choices().isEmpty() ? "" : " or " + String.join(", ", def.choices()));
            case CHOICE -> "word (" + String.join(", ", def.choices()) + ")";
        };
    }

    private static boolean allObjects(JsonNode array) {
        for (JsonNode e : array) if (!e.isObject()) return false;
        return true;
    }

    /** A value as the user wrote it: strings quoted, so {@code "abc"} and {@code abc} read the same. */
    static String show(JsonNode node) {
        if (node.isTextual()) return "'" + node.asText() + "'";
        if (node.isObject()) return "a mapping";
        if (node.isArray()) return "a list";
        if (node.isNull()) return "nothing";
        return node.asText();
    }
}
