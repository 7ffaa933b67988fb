package io.mergestream.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.MergestreamException;
import io.mergestream.format.FormatException;
import io.mergestream.format.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A model's vocabulary, read from its tokenizer files (JSON only: nothing is executed or unpickled):
 * {@code tokenizer.json}'s {@code model.vocab} (a map token → id for BPE, WordPiece and WordLevel, a list of
 * {@code [piece, score]} for Unigram) and {@code added_tokens}, then {@code added_tokens.json} and
 * {@code tokenizer_config.json}'s {@code added_tokens_decoder} for ids tokenizer.json leaves free.
 *
 * @param byId  token by id (ids may have gaps)
 * @param ids   id by token (the lowest id when a token appears twice)
 * @param added added-token entries (as tokenizer.json writes them) by content
 */
public record Vocabulary(SortedMap<Integer, String> byId, Map<String, Integer> ids, Map<String, ObjectNode> added) {

    public static final String TOKENIZER_JSON = "tokenizer.json";

    public Vocabulary {
        byId = Collections.unmodifiableSortedMap(new TreeMap<>(byId));
        ids = Collections.unmodifiableMap(new HashMap<>(ids));
        added = Collections.unmodifiableMap(new LinkedHashMap<>(added));
    }

    /**
     * Reads the vocabulary of the model in {@code dir}; {@code who} names it in errors ("recipe.yml: model 'x'").
     * A model without tokenizer.json is a one-line error: its vocabulary cannot be known without running code.
     */
    public static Vocabulary read(Path dir, String who) {
        Path file = dir.resolve(TOKENIZER_JSON);
        if (!Files.isRegularFile(file)) {
            String only = Files.isRegularFile(dir.resolve("tokenizer.model")) ? "has only tokenizer.model (sentencepiece)"
                    : Files.isRegularFile(dir.resolve("vocab.txt")) ? "has only vocab.txt"
                    : Files.isRegularFile(dir.resolve("vocab.json")) ? "has only vocab.json" : "has no tokenizer.json";
            throw new MergestreamException(who + " " + only + ": mergestream needs tokenizer.json to merge vocabularies"
                    + " (save the tokenizer with transformers' save_pretrained to write one, or use tokenizer_source: base)");
        }
        JsonNode root = Json.read(file);
        SortedMap<Integer, String> byId = new TreeMap<>();
        Map<String, ObjectNode> added = new LinkedHashMap<>();
        JsonNode model = root.path("model");
        JsonNode vocab = model.get("vocab");
        if (vocab != null && vocab.isObject()) {
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                byId.putIfAbsent(id(file, e.getValue(), "model.vocab['" + e.getKey() + "']"), e.getKey());
            }
        } else if (vocab != null && vocab.isArray()) { // Unigram: [[piece, score], ...], id = position
            for (int i = 0; i < vocab.size(); i++) {
                JsonNode piece = vocab.get(i);
                if (!piece.isArray() || piece.isEmpty() || !piece.get(0).isTextual()) {
                    throw new FormatException(file, "model.vocab[" + i + "] is not [piece, score]");
                }
                byId.putIfAbsent(i, piece.get(0).asText());
            }
        } else {
            throw new FormatException(file, "has no model.vocab (a map of tokens to ids, or a Unigram list)");
        }
        JsonNode addedTokens = root.path("added_tokens");
        if (!addedTokens.isMissingNode() && !addedTokens.isNull() && !addedTokens.isArray()) {
            // the run rewrites this list for a merged vocabulary and would fail on it only after the tensors
            throw new FormatException(file, "added_tokens is not a list");
        }
        Map<Integer, String> addedIds = new HashMap<>();
        for (JsonNode a : addedTokens) {
            if (!a.isObject() || !a.path("id").isNumber() || !a.path("content").isTextual()) {
                throw new FormatException(file, "added_tokens holds an entry without id and content");
            }
            int id = id(file, a.get("id"), "added_tokens id");
            String other = addedIds.putIfAbsent(id, a.get("content").asText());
            if (other != null && !other.equals(a.get("content").asText())) {
                // one would lose its id: the merged vocabulary could not say where either token is
                throw new FormatException(file, "added_tokens gives the id " + id + " to both '" + other + "' and '"
                        + a.get("content").asText() + "'");
            }
            byId.put(id, a.get("content").asText()); // an added token wins over the model's piece
            added.putIfAbsent(a.get("content").asText(), (ObjectNode) a.deepCopy());
        }
        Path addedJson = dir.resolve("added_tokens.json");
        if (Files.isRegularFile(addedJson)) {
            for (Map.Entry<String, JsonNode> e : Json.read(addedJson).properties()) {
                if (e.getValue().isNumber()) {
                    int id = id(addedJson, e.getValue(), "'" + e.getKey() + "'");
                    if (!byId.containsKey(id)) {
                        byId.put(id, e.getKey());
                        added.putIfAbsent(e.getKey(), entry(id, e.getKey(), null));
                    }
                }
            }
        }
        Path config = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(config)) {
            for (Map.Entry<String, JsonNode> e : Json.read(config).path("added_tokens_decoder").properties()) {
                JsonNode content = e.getValue().path("content");
                int id;
                try {
                    id = e.getKey().chars().allMatch(c -> c >= '0' && c <= '9') ? Integer.parseInt(e.getKey()) : -1;
                } catch (NumberFormatException ex) {
                    id = -1; // more digits than an int holds
                }
                if (id < 0 || id == Integer.MAX_VALUE) {
                    throw new FormatException(config, "added_tokens_decoder has a key '" + e.getKey() + "' that is not an id"
                            + " (0 .. " + (Integer.MAX_VALUE - 1) + ")");
                }
                if (content.isTextual() && !byId.containsKey(id)) {
                    byId.put(id, content.asText());
                    added.putIfAbsent(content.asText(), entry(id, content.asText(), e.getValue()));
                }
            }
        }
        Map<String, Integer> ids = new HashMap<>();
        for (Map.Entry<Integer, String> e : byId.entrySet()) ids.putIfAbsent(e.getValue(), e.getKey());
        return new Vocabulary(byId, ids, added);
    }

    /**
     * A token id: an integer from 0 to {@code Integer.MAX_VALUE - 1} (so that {@link #size()}, one past the
     * highest id, is an int). A negative id, a fraction ({@code 1.5} is not id 1) or a larger number is refused.
     */
    private static int id(Path file, JsonNode v, String what) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() == Integer.MAX_VALUE) {
            throw new FormatException(file, what + " is " + v + ", not a token id (0 .. " + (Integer.MAX_VALUE - 1) + ")");
        }
        return v.intValue();
    }

    /** The tokens with ids below {@code rows}: a model cannot use tokens past its embedding rows (mergekit strips them too). */
    public Vocabulary below(long rows) {
        if (byId.isEmpty() || byId.lastKey() < rows) return this;
        SortedMap<Integer, String> kept = new TreeMap<>(byId.headMap((int) Math.min(rows, Integer.MAX_VALUE)));
        Map<String, Integer> keptIds = new HashMap<>();
        for (Map.Entry<Integer, String> e : kept.entrySet()) keptIds.putIfAbsent(e.getValue(), e.getKey());
        Map<String, ObjectNode> keptAdded = new LinkedHashMap<>();
        added.forEach((k, v) -> {
            if (keptIds.containsKey(k)) keptAdded.put(k, v);
        });
        return new Vocabulary(kept, keptIds, keptAdded);
    }

    /** One past the highest id, 0 when empty. */
    public int size() {
        return byId.isEmpty() ? 0 : byId.lastKey() + 1;
    }

    /**
     * An added-token entry in tokenizer.json's key order; flags from {@code like} (an added_tokens_decoder value)
     * or transformers' defaults for a plain added token.
     */
    static ObjectNode entry(int id, String content, JsonNode like) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", id);
        o.put("content", content);
        boolean special = like != null && like.path("special").asBoolean(false);
        o.put("single_word", like != null && like.path("single_word").asBoolean(false));
        o.put("lstrip", like != null && like.path("lstrip").asBoolean(false));
        o.put("rstrip", like != null && like.path("rstrip").asBoolean(false));
        o.put("normalized", like == null ? true : like.path("normalized").asBoolean(!special));
        o.put("special", special);
        return o;
    }
}
