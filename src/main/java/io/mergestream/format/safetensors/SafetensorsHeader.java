package io.mergestream.format.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mergestream.format.FormatException;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file, parsed and validated with the rules of the reference
 * implementation (huggingface/safetensors, {@code tensor.rs}): a JSON object; {@code __metadata__} maps
 * strings to strings; no duplicate names; known dtypes; non-negative shapes whose byte size does not
 * overflow and equals the tensor's byte range; ranges contiguous from 0 and covering the data section.
 */
public record SafetensorsHeader(List<TensorInfo> tensors, Map<String, String> metadata) {

    /** The reference implementation's cap on the header length. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    public static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper STRICT_JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /**
     * Parses {@code json} (the header bytes after the 8-byte length) and checks every tensor against a
     * data section of {@code dataBytes} bytes. Tensors come back in header order.
     */
    public static SafetensorsHeader parse(Path file, byte[] json, long dataBytes) {
        JsonNode root = readJson(file, json);
        if (!root.isObject()) {
            throw new FormatException(file, "header is not a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals(METADATA_KEY)) {
                readMetadata(file, e.getValue(), metadata);
            } else {
                tensors.add(readTensor(file, e.getKey(), e.getValue()));
            }
        }
        checkLayout(file, tensors, dataBytes);
        return new SafetensorsHeader(List.copyOf(tensors), Map.copyOf(metadata));
    }

    private static JsonNode readJson(Path file, byte[] json) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(file, "header is not valid UTF-8");
        }
        if (text.isEmpty() || text.charAt(0) != '{') {
            throw new FormatException(file, "header is not a JSON object (it must start with '{')");
        }
        try (JsonParser parser = STRICT_JSON.createParser(text)) {
            JsonNode root = STRICT_JSON.readTree(parser);
            if (parser.nextToken() != null) {
                // The reference parser (serde_json::from_str) accepts only whitespace after the object.
                throw new FormatException(file, "header is not valid JSON: unexpected text after the header object");
            }
            return root;
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage();
            if (msg.startsWith("Duplicate field")) {
                throw new FormatException(file, "header has a duplicate tensor name: " + msg.substring(msg.indexOf('\'')));
            }
            throw new FormatException(file, "header is not valid JSON: " + firstLine(msg));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> into) {
        if (node.isNull()) return;
        if (!node.isObject()) {
            throw new FormatException(file, "__metadata__ must be an object of strings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new FormatException(file, "__metadata__ value of '" + e.getKey() + "' is not a string");
            }
            into.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo readTensor(Path file, String name, JsonNode node) {
        if (!node.isObject()) {
            throw new FormatException(file, name, "entry is not an object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new FormatException(file, name, "missing or non-string dtype");
        }
        DType dtype = DType.fromHeaderName(dtypeNode.textValue()).orElseThrow(() ->
                new FormatException(file, name, "unknown dtype '" + dtypeNode.textValue() + "'"));
        long[] shape = readLongs(file, name, node.get("shape"), "shape", -1);
        long[] offsets = readLongs(file, name, node.get("data_offsets"), "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw new FormatException(file, name, "data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        long needed;
        try {
            needed = Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new FormatException(file, name, "shape " + java.util.Arrays.toString(shape) + " overflows 64 bits");
        }
        if (end - begin != needed) {
            throw new FormatException(file, name, "data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but shape " + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + needed);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] readLongs(Path file, String name, JsonNode node, String key, int expectedLength) {
        if (node == null || !node.isArray()) {
            throw new FormatException(file, name, "missing or non-array " + key);
        }
        if (expectedLength >= 0 && node.size() != expectedLength) {
            throw new FormatException(file, name, key + " must have " + expectedLength + " entries, has " + node.size());
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw new FormatException(file, name, key + " entry " + v + " is not an integer");
            }
            out[i] = v.longValue();
            if (out[i] < 0) {
                throw new FormatException(file, name, key + " entry " + out[i] + " is negative");
            }
        }
        return out;
    }

    /** Ranges sorted by offset must start at 0, follow each other without gap or overlap, and end at dataBytes. */
    private static void checkLayout(Path file, List<TensorInfo> tensors, long dataBytes) {
        List<TensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        String previous = null;
        for (TensorInfo t : byOffset) {
            if (t.begin() != expected) {
                String where = previous == null ? "the data section starts at 0" : "'" + previous + "' ends at " + expected;
                String kind = t.begin() < expected ? "overlaps" : "leaves a gap";
                throw new FormatException(file, t.name(), "data_offsets begin at " + t.begin() + " but " + where
                        + " (" + kind + ")");
            }
            expected = t.end();
            previous = t.name();
        }
        if (expected != dataBytes) {
            throw new FormatException(file, "tensors cover " + expected + " bytes of a " + dataBytes
                    + "-byte data section (the file is " + (expected > dataBytes ? "truncated" : "padded with unused bytes") + ")");
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
