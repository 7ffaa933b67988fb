package io.mergestream.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads mergekit's {@code slices:}: a list of {@code {sources: [{model, layer_range: [from, to], parameters}]}},
 * each giving the next output layers. Slice-level {@code base_model}, {@code residual_weight} and
 * {@code parameters} are recognised and reported as not supported yet.
 */
final class SliceParser {

    private static final List<String> SLICE_KEYS = List.of("sources");
    private static final List<String> SLICE_KEYS_NOT_SUPPORTED_YET = List.of("base_model", "residual_weight", "parameters");
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
        parser.checkKeys(node, path, SLICE_KEYS, SLICE_KEYS_NOT_SUPPORTED_YET);
        KeyPath sourcesPath = path.key("sources");
        JsonNode sources = parser.required(node, path, "sources");
        if (!sources.isArray() || sources.isEmpty()) {
            throw errors.at(sourcesPath, "must be a non-empty list of {model, layer_range} entries");
        }
        List<OutputSlice.Source> list = new ArrayList<>();
        for (int j = 0; j < sources.size(); j++) list.add(source(sources.get(j), sourcesPath.index(j), method));
        return new OutputSlice(list, path.text());
    }

    private OutputSlice.Source source(JsonNode node, KeyPath path, MethodSpec method) {
        if (!node.isObject()) throw errors.at(path, "expected {model: PATH, layer_range: [FROM, TO]}, not " + SettingParser.show(node));
        parser.checkKeys(node, path, SOURCE_KEYS, List.of());
        String model = parser.modelReference(parser.required(node, path, "model"), path.key("model"));
        KeyPath rangePath = path.key("layer_range");
        JsonNode range = parser.required(node, path, "layer_range");
        if (!range.isArray() || range.size() != 2 || !range.get(0).canConvertToInt() || !range.get(1).canConvertToInt()
                || !range.get(0).isIntegralNumber() || !range.get(1).isIntegralNumber()) {
            throw errors.at(rangePath, "must be [FROM, TO], two layer numbers, not " + SettingParser.show(range));
        }
        int from = range.get(0).intValue();
        int to = range.get(1).intValue();
        if (from < 0 || to <= from) {
            throw errors.at(rangePath, "[" + from + ", " + to + "] is empty or negative (layers FROM .. TO-1, FROM >= 0)");
        }
        Parameters parameters = parser.parameters(node.get("parameters"), path.key("parameters"), method, false);
        return new OutputSlice.Source(new ModelEntry(model, parameters), from, to);
    }
}
