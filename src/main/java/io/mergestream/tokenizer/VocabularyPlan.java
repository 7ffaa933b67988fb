package io.mergestream.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.Json;
import io.mergestream.format.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A merge whose vocabulary tensors are rebuilt onto an output vocabulary ({@code tokenizer_source: union},
 * a model, or a {@code tokenizer:} block): the {@link VocabularyMapping}, each participant's vocabulary
 * tensors, and the tokenizer files to write.
 *
 * <p>Streaming: the planner takes each participant's vocabulary tensor (embed_tokens, lm_head …) from
 * {@link #source}: a computed {@link TensorSource} that builds the output vocabulary's rows for the range a reader
 * asks (a row copy, or the f32 mean of rows in participant order, rounded once to the participant's dtype), and the
 * normal merge runs on it like on any input. A participant whose rows are already in output order (same
 * vocabulary) is read in place. <b>Memory:</b> a method that streams its inputs (linear, task arithmetic, DARE …)
 * holds one chunk per participant; one that reads whole tensors materialises each participant's tensor for the
 * time that tensor is merged: {@code participants × rows × hidden × dtype size} (Llama-2-7B, bf16, union of 32 001
 * rows, base and three fine-tunes: 4 × 32 001 × 4096 × 2 B ≈ 1 GB), for two tensors of the whole merge.
 */
public final class VocabularyPlan {

    private final VocabularyMapping mapping;
    private final Map<String, List<TensorSource>> tensors;
    private final int baseParticipant;
    private final int[] modelParticipants;
    private final Path tokenizerDir;
    private final Vocabulary tokenizerVocabulary;
    private final List<Vocabulary> participantVocabularies;
    private final String description;

    /**
     * @param mapping                 the output vocabulary and row sources
     * @param tensors                 each vocabulary tensor's stored tensor per participant, by output name
     * @param baseParticipant         the participant of the plan's base, -1 without
     * @param modelParticipants       the participant of each merged model, in the plan's fine-tune order
     * @param tokenizerDir            whose tokenizer files are rewritten for the output (the union's reference or the source model)
     * @param tokenizerVocabulary     that directory's vocabulary, as its tokenizer files hold it
     * @param participantVocabularies each participant's vocabulary, for the added-token flags of new tokens
     */
    public VocabularyPlan(VocabularyMapping mapping, Map<String, List<TensorSource>> tensors, int baseParticipant,
                          int[] modelParticipants, Path tokenizerDir, Vocabulary tokenizerVocabulary,
                          List<Vocabulary> participantVocabularies, String description) {
        this.mapping = mapping;
        this.tensors = new LinkedHashMap<>(tensors);
        this.baseParticipant = baseParticipant;
        this.modelParticipants = modelParticipants.clone();
        this.tokenizerDir = tokenizerDir;
        this.tokenizerVocabulary = tokenizerVocabulary;
        this.participantVocabularies = List.copyOf(participantVocabularies);
        this.description = description;
    }

    public VocabularyMapping mapping() {
        return mapping;
    }

    /** The output's vocabulary rows ({@code vocab_size}). */
    public int rows() {
        return mapping.rows();
    }

    /** One line for the dry run: source, tokens, rows. */
    public String describe() {
        return description;
    }

    /** True for the vocabulary tensors this plan rebuilds. */
    public boolean remaps(String tensorName) {
        return tensors.containsKey(tensorName);
    }

    public int baseParticipant() {
        return baseParticipant;
    }

    public int modelParticipant(int fineTune) {
        return modelParticipants[fineTune];
    }

    /**
     * Participant {@code p}'s tensor {@code name} with its rows in output order: the participant's own source when
     * already so (read in place), else a computed source that builds the rows of each range asked
     * ({@link RemappedRows}).
     */
    public TensorSource source(String name, int p) {
        List<TensorSource> all = tensors.get(name);
        TensorSource own = all.get(p);
        if (mapping.isIdentity(p, own.info().dim(0))) return own;
        return new RemappedRows(name, mapping.rows(), all, p, mapping.rowsOf(p));
    }

    /**
     * Writes the output's tokenizer files over the copies already in {@code out}: tokenizer.json with the tokens
     * past the source's rows removed and the new tokens appended as added tokens, tokenizer_config.json's
     * {@code added_tokens_decoder} and added_tokens.json to match; and config.json's {@code vocab_size}.
     */
    public void writeFiles(Path out) {
        Path config = out.resolve("config.json");
        if (Files.isRegularFile(config) && Json.read(config) instanceof ObjectNode c) {
            c.put("vocab_size", mapping.rows());
            Json.writePretty(config, c);
        }
        List<String> tokens = mapping.tokens();
        boolean changed = tokens.size() != tokenizerVocabulary.size();
        for (int id = 0; id < tokens.size() && !changed; id++) {
            String t = tokens.get(id);
            changed = t == null ? tokenizerVocabulary.byId().containsKey(id) : !t.equals(tokenizerVocabulary.byId().get(id));
        }
        if (!changed) return; // the copied files already describe the output vocabulary
        Path tokFile = tokenizerDir.resolve(Vocabulary.TOKENIZER_JSON);
        ObjectNode tok = (ObjectNode) Json.read(tokFile);
        int keep = keptRows(tokens);
        stripModelVocabulary(tok, keep);
        ArrayNode added = tok.withArray("added_tokens");
        for (Iterator<JsonNode> it = added.iterator(); it.hasNext(); ) {
            if (it.next().path("id").asInt() >= keep) it.remove();
        }
        for (int id = keep; id < tokens.size(); id++) {
            String t = tokens.get(id);
            if (t != null) added.add(newAddedToken(id, t));
        }
        Json.writePretty(out.resolve(Vocabulary.TOKENIZER_JSON), tok);
        TreeMap<Integer, JsonNode> byId = new TreeMap<>();
        for (JsonNode a : added) byId.put(a.get("id").asInt(), a);
        Path tc = tokenizerDir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(tc) && Json.read(tc) instanceof ObjectNode cfg) {
            ObjectNode decoder = Json.MAPPER.createObjectNode();
            for (Map.Entry<Integer, JsonNode> e : byId.entrySet()) {
                ObjectNode d = decoder.putObject(Integer.toString(e.getKey()));
                for (String k : List.of("content", "lstrip", "normalized", "rstrip", "single_word", "special")) {
                    d.set(k, e.getValue().get(k));
                }
            }
            Json.writePretty(out.resolve("tokenizer_config.json"), withKey(cfg, "added_tokens_decoder", decoder));
        }
        if (Files.isRegularFile(tokenizerDir.resolve("added_tokens.json"))) {
            Set<String> pieces = modelPieces(tok);
            ObjectNode a = Json.MAPPER.createObjectNode();
            for (JsonNode e : byId.values()) {
                if (!pieces.contains(e.get("content").asText())) a.put(e.get("content").asText(), e.get("id").asInt());
            }
            Json.writePretty(out.resolve("added_tokens.json"), a);
        }
    }

    /** The ids of the source's own tokens that the output keeps at the same id (all below this). */
    private int keptRows(List<String> tokens) {
        int keep = 0;
        while (keep < tokens.size() && keep < tokenizerVocabulary.size()) {
            String t = tokens.get(keep);
            String s = tokenizerVocabulary.byId().get(keep);
            if (t == null ? s != null : !t.equals(s)) break;
            keep++;
        }
        return keep;
    }

    /** An added token new to the source's files: the entry of the first participant that has it, else a plain one. */
    private ObjectNode newAddedToken(int id, String t) {
        for (Vocabulary v : participantVocabularies) {
            ObjectNode e = v.added().get(t);
            if (e != null) {
                ObjectNode copy = e.deepCopy();
                copy.put("id", id);
                return copy;
            }
        }
        return Vocabulary.entry(id, t, null);
    }

    /** Removes model.vocab entries at ids {@code >= keep} (and the BPE merges that use them). */
    private static void stripModelVocabulary(ObjectNode tok, int keep) {
        JsonNode model = tok.get("model");
        if (!(model instanceof ObjectNode m)) return;
        JsonNode vocab = m.get("vocab");
        Set<String> removed = new java.util.HashSet<>();
        if (vocab instanceof ObjectNode v) {
            for (Iterator<Map.Entry<String, JsonNode>> it = v.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getValue().asInt() >= keep) {
                    removed.add(e.getKey());
                    it.remove();
                }
            }
        } else if (vocab instanceof ArrayNode a) {
            while (a.size() > keep) a.remove(a.size() - 1);
        }
        if (!removed.isEmpty() && m.get("merges") instanceof ArrayNode merges) {
            for (Iterator<JsonNode> it = merges.iterator(); it.hasNext(); ) {
                JsonNode merge = it.next();
                List<String> parts = new ArrayList<>();
                if (merge.isTextual()) parts.addAll(List.of(merge.asText().split(" ")));
                else merge.forEach(p -> parts.add(p.asText()));
                if (parts.stream().anyMatch(removed::contains)) it.remove();
            }
        }
    }

    private static Set<String> modelPieces(ObjectNode tok) {
        Set<String> pieces = new java.util.HashSet<>();
        JsonNode vocab = tok.path("model").path("vocab");
        if (vocab.isObject()) vocab.properties().forEach(e -> pieces.add(e.getKey()));
        else vocab.forEach(p -> pieces.add(p.path(0).asText()));
        return pieces;
    }

    /**
     * {@code obj} with {@code key} set: in place when present; else inserted in sorted position when the keys are
     * sorted (as transformers writes tokenizer_config.json), else last.
     */
    static ObjectNode withKey(ObjectNode obj, String key, JsonNode value) {
        if (obj.has(key)) {
            obj.set(key, value);
            return obj;
        }
        List<String> keys = new ArrayList<>();
        obj.fieldNames().forEachRemaining(keys::add);
        boolean sorted = true;
        for (int i = 1; i < keys.size(); i++) sorted &= keys.get(i - 1).compareTo(keys.get(i)) <= 0;
        if (!sorted) {
            obj.set(key, value);
            return obj;
        }
        ObjectNode out = Json.MAPPER.createObjectNode();
        boolean placed = false;
        for (String k : keys) {
            if (!placed && k.compareTo(key) > 0) {
                out.set(key, value);
                placed = true;
            }
            out.set(k, obj.get(k));
        }
        if (!placed) out.set(key, value);
        return out;
    }
}
