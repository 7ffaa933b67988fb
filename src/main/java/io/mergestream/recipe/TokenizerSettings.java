package io.mergestream.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * mergekit's {@code tokenizer:} block: where the output vocabulary comes from ({@code source}: {@code union}, the
 * default, {@code base} or a model path), per-token embedding sources ({@code tokens}) and
 * {@code pad_to_multiple_of} (the output's vocabulary tensors get a row count rounded up to a multiple of it).
 * A token listed under {@code tokens} that the output vocabulary lacks is added to it, as mergekit does.
 */
public record TokenizerSettings(String source, Map<String, TokenSource> tokens, OptionalInt padToMultipleOf) {

    public TokenizerSettings {
        tokens = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tokens));
    }

    /** Where one token's embedding row comes from, and whether models that have the token are overridden too. */
    public record TokenSource(Kind kind, String model, OptionalInt tokenId, Optional<String> token, boolean force) {
        public enum Kind {
            /** {@code source: MODEL}: that model's row of the same token. */
            MODEL,
            /** {@code source: {kind: model_token, model: M, token_id: N | token: T}}: a given row of a model. */
            MODEL_TOKEN,
            /** {@code source: {kind: zero}}: a row of zeros. */
            ZERO
        }
    }

    private static final List<String> KEYS = List.of("source", "tokens", "pad_to_multiple_of");
    private static final List<String> TOKEN_KEYS = List.of("source", "force");

    /** {@code tokenizer_source: X} written as the block. */
    public static TokenizerSettings ofSource(String source) {
        return new TokenizerSettings(source, Map.of(), OptionalInt.empty());
    }

    static TokenizerSettings parse(JsonNode node, RecipeErrors errors) {
        KeyPath path = KeyPath.root().key("tokenizer");
        if (!node.isObject()) {
            throw errors.at(path, "must be a mapping (source, tokens, pad_to_multiple_of), not " + SettingParser.show(node));
        }
        checkKeys(node, path, KEYS, errors);
        String source = "union"; // mergekit's default for the block
        JsonNode s = node.get("source");
        if (s != null && !s.isNull()) source = text(s, path.key("source"), errors);
        if (source.isBlank()) throw errors.at(path.key("source"), "is empty");
        Map<String, TokenSource> tokens = new LinkedHashMap<>();
        JsonNode t = node.get("tokens");
        if (t != null && !t.isNull()) {
            if (!t.isObject()) throw errors.at(path.key("tokens"), "must be a mapping of tokens to {source, force}");
            for (Map.Entry<String, JsonNode> e : t.properties()) {
                tokens.put(e.getKey(), tokenSource(e.getValue(), path.key("tokens").key(e.getKey()), errors));
            }
        }
        OptionalInt pad = OptionalInt.empty();
        JsonNode p = node.get("pad_to_multiple_of");
        if (p != null && !p.isNull()) {
            if (!p.isIntegralNumber() || p.asLong() < 1 || p.asLong() > (1 << 20)) {
                throw errors.at(path.key("pad_to_multiple_of"), SettingParser.show(p) + " is not a positive integer");
            }
            pad = OptionalInt.of(p.asInt());
        }
        return new TokenizerSettings(source, tokens, pad);
    }

    private static TokenSource tokenSource(JsonNode node, KeyPath path, RecipeErrors errors) {
        if (!node.isObject()) throw errors.at(path, "must be a mapping {source: ..., force: ...}");
        checkKeys(node, path, TOKEN_KEYS, errors);
        boolean force = false;
        JsonNode f = node.get("force");
        if (f != null && !f.isNull()) {
            // pydantic reads 0 and 1 as booleans, so mergekit does
            boolean number = f.isNumber() && (f.doubleValue() == 0 || f.doubleValue() == 1);
            if (!f.isBoolean() && !number) throw errors.at(path.key("force"), SettingParser.show(f) + " is not true or false");
            force = number ? f.doubleValue() == 1 : f.asBoolean();
        }
        JsonNode s = node.get("source");
        KeyPath sp = path.key("source");
        if (s == null || s.isNull()) throw errors.at(sp, "missing (a model, {kind: model_token, ...} or {kind: zero})");
        if (s.isTextual()) {
            if (s.asText().isBlank()) throw errors.at(sp, "is empty");
            return new TokenSource(TokenSource.Kind.MODEL, s.asText(), OptionalInt.empty(), Optional.empty(), force);
        }
        if (!s.isObject()) throw errors.at(sp, "must be a model or a mapping with kind: model_token or zero");
        JsonNode kind = s.get("kind");
        if (kind == null || !kind.isTextual()) throw errors.at(sp.key("kind"), "missing (model_token or zero)");
        switch (kind.asText()) {
            case "zero" -> {
                checkKeys(s, sp, List.of("kind"), errors);
                return new TokenSource(TokenSource.Kind.ZERO, null, OptionalInt.empty(), Optional.empty(), force);
            }
            case "model_token" -> {
                checkKeys(s, sp, List.of("kind", "model", "token_id", "token"), errors);
                JsonNode m = s.get("model");
                if (m == null || m.isNull()) throw errors.at(sp.key("model"), "missing");
                String model = text(m, sp.key("model"), errors);
                JsonNode id = s.get("token_id");
                JsonNode tok = s.get("token");
                boolean hasId = id != null && !id.isNull();
                boolean hasTok = tok != null && !tok.isNull();
                if (hasId == hasTok) throw errors.at(sp, "give exactly one of token_id and token");
                if (hasId && (!id.isIntegralNumber() || id.asLong() < 0 || id.asLong() > Integer.MAX_VALUE)) {
                    throw errors.at(sp.key("token_id"), SettingParser.show(id) + " is not a token id (an integer >= 0)");
                }
                return new TokenSource(TokenSource.Kind.MODEL_TOKEN, model,
                        hasId ? OptionalInt.of(id.asInt()) : OptionalInt.empty(),
                        hasTok ? Optional.of(text(tok, sp.key("token"), errors)) : Optional.empty(), force);
            }
            default -> throw errors.at(sp.key("kind"), "'" + kind.asText() + "' is not a token source kind (allowed: model_token, zero)");
        }
    }

    /** mergekit (pydantic) ignores keys it does not know here too: a warning each, an error when strict. */
    private static void checkKeys(JsonNode node, KeyPath path, List<String> allowed, RecipeErrors errors) {
        for (Map.Entry<String, JsonNode> field : node.properties()) {
            if (!allowed.contains(field.getKey())) {
                errors.warn(path.key(field.getKey()), "unknown key: ignored, as mergekit ignores it (allowed: "
                        + String.join(", ", allowed) + ")");
            }
        }
    }

    private static String text(JsonNode node, KeyPath path, RecipeErrors errors) {
        if (!node.isTextual()) throw errors.at(path, "must be a string, not " + SettingParser.show(node));
        return node.asText();
    }
}
