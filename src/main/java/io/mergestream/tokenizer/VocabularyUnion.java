package io.mergestream.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The output vocabulary of {@code tokenizer_source: union} and, for each input model, where each output
 * embedding row comes from. This is the pure core of issue 6's tokenizer work (no files, no tensors): the
 * union keeps the base's tokens in the base's order, then appends tokens new to it in model order (each
 * model's own id order). For a model, output row t is its own row when it has token t; otherwise it is
 * taken from the base if the base has t, else from the only model that has t, else the mean of the models
 * that have it (never empty in a union). Padding rows past the vocabulary get the mean of the
 * model's own rows ({@link #paddingRows}).
 *
 * <p>Not wired yet: reading tokenizer.json / added_tokens.json, applying these row sources when building
 * MergeInputs, and writing the tokenizer files and config.json's vocab_size are still to do.
 */
public final class VocabularyUnion {

    /** Marks the base model in a {@link RowSource}. */
    public static final int BASE = -1;

    /** One output row of one model: the mean of {@code rows} (model index or {@link #BASE}, row id); zeros if empty. */
    public record RowSource(List<int[]> rows) {
        public RowSource {
            rows = List.copyOf(rows);
        }

        public static RowSource own(int model, int row) {
            return new RowSource(List.<int[]>of(new int[] {model, row}));
        }
    }

    private final List<String> tokens;
    private final List<List<RowSource>> sources;

    private VocabularyUnion(List<String> tokens, List<List<RowSource>> sources) {
        this.tokens = tokens;
        this.sources = sources;
    }

    /**
     * @param base   the base's tokens by id
     * @param models each model's tokens by id, in recipe order
     */
    public static VocabularyUnion of(List<String> base, List<List<String>> models) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (String t : base) out.putIfAbsent(t, out.size());
        for (List<String> m : models) for (String t : m) out.putIfAbsent(t, out.size());
        Map<String, Integer> baseIds = ids(base);
        List<Map<String, Integer>> modelIds = new ArrayList<>();
        for (List<String> m : models) modelIds.add(ids(m));
        List<String> tokens = List.copyOf(out.keySet());
        List<List<RowSource>> sources = new ArrayList<>();
        for (int j = 0; j < models.size(); j++) {
            List<RowSource> rows = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                Integer own = modelIds.get(j).get(t);
                if (own != null) {
                    rows.add(RowSource.own(j, own));
                } else if (baseIds.containsKey(t)) {
                    rows.add(RowSource.own(BASE, baseIds.get(t)));
                } else {
                    List<int[]> holders = new ArrayList<>();
                    for (int k = 0; k < models.size(); k++) {
                        Integer id = modelIds.get(k).get(t);
                        if (id != null) holders.add(new int[] {k, id});
                    }
                    rows.add(new RowSource(holders)); // one holder: its row; several: their mean; none: zeros
                }
            }
            sources.add(List.copyOf(rows));
        }
        return new VocabularyUnion(tokens, List.copyOf(sources));
    }

    private static Map<String, Integer> ids(List<String> tokens) {
        Map<String, Integer> m = new HashMap<>();
        for (int i = 0; i < tokens.size(); i++) m.putIfAbsent(tokens.get(i), i);
        return m;
    }

    public List<String> tokens() {
        return tokens;
    }

    /** Where model j's output row for each output token comes from. */
    public List<RowSource> rowsOf(int model) {
        return sources.get(model);
    }

    /** Rows past the vocabulary (an embedding padded to a multiple) get the mean of the model's own rows. */
    public static int paddingRows(int vocabulary, int paddedRows) {
        return Math.max(0, paddedRows - vocabulary);
    }
}
