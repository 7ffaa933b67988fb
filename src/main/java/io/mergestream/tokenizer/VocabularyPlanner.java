package io.mergestream.tokenizer;

import io.mergestream.MergestreamException;
import io.mergestream.format.Json;
import io.mergestream.format.TensorSource;
import io.mergestream.recipe.TokenizerSettings;
import io.mergestream.recipe.TokenizerSettings.TokenSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Builds a {@link VocabularyPlan} from the recipe's tokenizer settings and the opened models: reads every
 * participant's vocabulary (ids below its embedding rows), chooses the output vocabulary (the union, the base's
 * or a model's, plus tokens named under {@code tokens} that it lacks), resolves the per-token sources and
 * checks them. Every problem is a one-line error naming the recipe.
 */
public final class VocabularyPlanner {

    private VocabularyPlanner() {}

    /**
     * @param recipe            the recipe file, for errors
     * @param names             each participant's model as the recipe names it (the base first, if any)
     * @param dirs              each participant's directory
     * @param hasBase           whether participant 0 is the base model
     * @param modelParticipants the participant of each merged model, in fine-tune order
     * @param tensors           each vocabulary tensor per participant (same order), by output tensor name
     * @param resolve           the recipe's model path resolution
     */
    public static VocabularyPlan build(Path recipe, TokenizerSettings settings, List<String> names, List<Path> dirs,
                                       boolean hasBase, int[] modelParticipants, Map<String, List<TensorSource>> tensors,
                                       Function<String, Path> resolve) {
        String at = recipe + ": ";
        if (tensors.isEmpty()) {
            throw new MergestreamException(at + "tokenizer source '" + settings.source() + "' rebuilds the vocabulary"
                    + " tensors, but the models have none (embed_tokens, lm_head, word_embeddings ...)");
        }
        int n = names.size();
        long[] rows = new long[n];
        java.util.Arrays.fill(rows, Long.MAX_VALUE);
        for (List<TensorSource> per : tensors.values()) {
            for (int p = 0; p < n; p++) rows[p] = Math.min(rows[p], per.get(p).info().dim(0));
        }
        List<Vocabulary> vocabularies = new ArrayList<>();
        List<Map<String, Integer>> ids = new ArrayList<>();
        for (int p = 0; p < n; p++) {
            Vocabulary v = Vocabulary.read(dirs.get(p), at + "model '" + names.get(p) + "'").below(rows[p]);
            vocabularies.add(v);
            ids.add(v.ids());
        }
        int base = hasBase ? 0 : -1;
        String source = settings.source();
        List<String> tokens;
        Path tokenizerDir;
        Vocabulary tokenizerVocabulary;
        String what;
        if (source.equals("union")) {
            tokens = VocabularyMapping.union(ids, 0);
            tokenizerDir = dirs.get(0);
            tokenizerVocabulary = Vocabulary.read(tokenizerDir, at + "model '" + names.get(0) + "'");
            what = "union of " + n + " models";
        } else {
            int p = source.equals("base") ? 0 : participant(source, names, dirs, resolve);
            Vocabulary v;
            if (p >= 0) {
                tokenizerDir = dirs.get(p);
                v = vocabularies.get(p);
                what = "the vocabulary of " + names.get(p);
            } else {
                tokenizerDir = resolve.apply(source);
                if (!Files.isDirectory(tokenizerDir)) {
                    throw new MergestreamException(at + "tokenizer source: model '" + source + "' not found (looked for "
                            + tokenizerDir + ")");
                }
                v = Vocabulary.read(tokenizerDir, at + "tokenizer source '" + source + "'");
                Path config = tokenizerDir.resolve("config.json");
                if (Files.isRegularFile(config) && Json.read(config).path("vocab_size").canConvertToInt()) {
                    v = v.below(Json.read(config).get("vocab_size").asInt());
                }
                what = "the vocabulary of " + source;
            }
            tokenizerVocabulary = Vocabulary.read(tokenizerDir, at + "tokenizer source '" + source + "'");
            tokens = new ArrayList<>(java.util.Collections.nCopies(v.size(), (String) null));
            for (Map.Entry<Integer, String> e : v.byId().entrySet()) tokens.set(e.getKey(), e.getValue());
        }
        tokens = new ArrayList<>(tokens);
        java.util.Set<String> present = new java.util.HashSet<>(tokens);
        for (String t : settings.tokens().keySet()) {
            if (present.add(t)) tokens.add(t); // mergekit adds the tokens it is told about
        }
        Map<String, VocabularyMapping.TokenOverride> overrides = new LinkedHashMap<>();
        for (Map.Entry<String, TokenSource> e : settings.tokens().entrySet()) {
            overrides.put(e.getKey(), override(at, e.getKey(), e.getValue(), names, dirs, vocabularies, rows, resolve));
        }
        int pad = settings.padToMultipleOf().orElse(1);
        VocabularyMapping mapping = VocabularyMapping.build(ids, base, tokens, pad, overrides);
        String description = what + ": " + present.stream().filter(java.util.Objects::nonNull).count()
                + " tokens, " + mapping.rows() + " rows" + (pad > 1 ? " (pad_to_multiple_of " + pad + ")" : "")
                + ", tensors " + String.join(", ", tensors.keySet());
        return new VocabularyPlan(mapping, tensors, hasBase ? 0 : -1, modelParticipants, tokenizerDir,
                tokenizerVocabulary, vocabularies, description);
    }

    private static VocabularyMapping.TokenOverride override(String at, String token, TokenSource s, List<String> names,
                                                       List<Path> dirs, List<Vocabulary> vocabularies, long[] rows,
                                                       Function<String, Path> resolve) {
        String key = "tokenizer.tokens." + token + ".source: ";
        if (s.kind() == TokenSource.Kind.ZERO) return VocabularyMapping.TokenOverride.zero(s.force());
        int p = participant(s.model(), names, dirs, resolve);
        if (p < 0) {
            throw new MergestreamException(at + key + "model '" + s.model() + "' is not one of the merged models");
        }
        if (s.kind() == TokenSource.Kind.MODEL) {
            if (!vocabularies.get(p).ids().containsKey(token)) {
                throw new MergestreamException(at + key + "model '" + s.model() + "' has no token '" + token + "'");
            }
            return new VocabularyMapping.TokenOverride(p, -1, false, s.force());
        }
        int row;
        if (s.tokenId().isPresent()) {
            row = s.tokenId().getAsInt();
            if (row >= rows[p]) {
                throw new MergestreamException(at + key + "token_id " + row + " is past model '" + s.model() + "''s "
                        + rows[p] + " vocabulary rows");
            }
        } else {
            Integer id = vocabularies.get(p).ids().get(s.token().orElseThrow());
            if (id == null) {
                throw new MergestreamException(at + key + "model '" + s.model() + "' has no token '" + s.token().get() + "'");
            }
            row = id;
        }
        return new VocabularyMapping.TokenOverride(p, row, false, s.force());
    }

    /** The participant a recipe model reference names: by the name as written, else by directory; -1 if none. */
    private static int participant(String model, List<String> names, List<Path> dirs, Function<String, Path> resolve) {
        int i = names.indexOf(model);
        if (i >= 0) return i;
        Path p = resolve.apply(model).toAbsolutePath().normalize();
        for (int k = 0; k < dirs.size(); k++) if (dirs.get(k).toAbsolutePath().normalize().equals(p)) return k;
        return -1;
    }
}
