package io.mergestream.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads mergekit's {@code slices:}: a list of {@code {sources: [{model, layer_range: [from, to], parameters}]}},
 * each giving the next output layers. A slice may have its own {@code base_model} (replacing the recipe's for
 * its layers) and {@code parameters} (consulted after a source's own, before the top-level block), as in
 * mergekit. {@code residual_weight} is declared by mergekit and never used by it: checked, then ignored with a
 * warning.
 */
final class SliceParser {

    private static final List<String> SLICE_KEYS = List.of("sources", "base_model", "parameters", "residual_weight");
    private static final List<String> SOURCE_KEYS = List.of("model", "layer_range", "parameters");

    private final RecipeParser parser;
    private final RecipeErrors errors;

    SliceParser(RecipeParser parser, RecipeErrors errors) {
        this.parser = parser;
        this.errors = errors;
    }

    List<OutputSlice> slices(JsonNode node, MethodSpec method) {
        KeyPath path = KeyPath.root().key("slices");
        if (!node.isArray()) throw errors.at(path, "must be a list of {sources: [...]} entries, not " + SettingParser.show(node));
        if (node.isEmpty()) throw errors.at(path, "is empty (list the output slices)");
        List<OutputSlice> slices = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) slices.add(slice(node.get(i), path.index(i), method));
        return List.copyOf(slices);
    }

    private OutputSlice slice(JsonNode node, KeyPath path, MethodSpec method) {
        if (!node.isObject()) throw errors.at(path, "expected {sources: [...]}, not " + SettingParser.show(node));
        parser.checkKeys(node, path, SLICE_KEYS, List.of());
        KeyPath sourcesPath = path.key("sources");
        JsonNode sources = parser.required(node, path, "sources");
        if (!sources.isArray() || sources.isEmpty()) {
            throw errors.at(sourcesPath, "must be a non-empty list of {model, layer_range} entries");
        }
        List<OutputSlice.Source> list = new ArrayList<>();
        for (int j = 0; j < sources.size(); j++) list.add(source(sources.get(j), sourcesPath.index(j), method));
        Optional<String> base = RecipeParser.optional(node, "base_model")
                .map(n -> parser.modelReference(n, path.key("base_model")));
        Parameters parameters = parser.parameters(node.get("parameters"), path.key("parameters"), method, true);
        RecipeParser.optional(node, "residual_weight").ifPresent(w -> residualWeight(w, path.key("residual_weight")));
        return new OutputSlice(list, path.text(), base, parameters);
    }

    /** An int, or a float without a fraction ({@code 4.0}), which pydantic reads as the int mergekit declares. */
    private static boolean isLayerNumber(JsonNode n) {
        if (n.isIntegralNumber()) return n.canConvertToInt();
        double v = n.doubleValue();
        return n.isFloatingPointNumber() && v == Math.rint(v) && Math.abs(v) <= Integer.MAX_VALUE;
    }

    /** mergekit declares it a float and never reads it: a wrong type is an error there too, a number has no effect. */
    private void residualWeight(JsonNode node, KeyPath path) {
        if (!node.isNumber() || !Double.isFinite(node.doubleValue())) {
            throw errors.at(path, SettingParser.show(node) + " is not a number");
        }
        errors.warn(path, "declared by mergekit but never used by it: ignored");
    }

    private OutputSlice.Source source(JsonNode node, KeyPath path, MethodSpec method) {
        if (!node.isObject()) throw errors.at(path, "expected {model: PATH, layer_range: [FROM, TO]}, not " + SettingParser.show(node));
        parser.checkKeys(node, path, SOURCE_KEYS, List.of());
        String model = parser.modelReference(parser.required(node, path, "model"), path.key("model"));
        KeyPath rangePath = path.key("layer_range");
        JsonNode range = parser.required(node, path, "layer_range");
        if (!range.isArray() || range.size() != 2 || !isLayerNumber(range.get(0)) || !isLayerNumber(range.get(1))) {
            throw errors.at(rangePath, "must be [FROM, TO], two layer numbers, not " + SettingParser.show(range));
        }
        int from = (int) range.get(0).doubleValue();
        int to = (int) range.get(1).doubleValue();
        if (from < 0 || to <= from) {
            throw errors.at(rangePath, "[" + from + ", " + to + "] is empty or negative (layers FROM .. TO-1, FROM >= 0)");
        }
        Parameters parameters = parser.parameters(node.get("parameters"), path.key("parameters"), method, false);
        return new OutputSlice.Source(new ModelEntry(model, parameters), from, to);
    }
}
