package io.mergestream.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pure core of vocabulary merging (no files, no tensors): the output vocabulary and, for each input
 * model ("participant": the base, if any, and every merged model), where each output embedding row comes
 * from. For participant j and output token t:
 * <ol>
 *   <li>j's own row of t, when j has t (unless a {@code force}d override names another source);</li>
 *   <li>else the override of {@code tokenizer.tokens} for t: a model's row of t, a given row of a model, or zeros;</li>
 *   <li>else the only participant that has t; zeros if none has it;</li>
 *   <li>else the base's row, when there is a base and it has t;</li>
 *   <li>else the mean, in f32 and participant order, of the rows of the participants that have t.</li>
 * </ol>
 * Rows with no token (gaps in the ids, or padding up to {@code pad_to_multiple_of}) get the mean of the
 * participant's own rows ({@link RowSource#PADDING}).
 */
public final class VocabularyMapping {

    /** One output row of one participant: the mean of the listed (participant, row) pairs; zeros when empty. */
    public record RowSource(int[] models, int[] rows, boolean padding) {
        public static final RowSource ZEROS = new RowSource(new int[0], new int[0], false);
        public static final RowSource PADDING = new RowSource(new int[0], new int[0], true);

        public static RowSource of(int model, int row) {
            return new RowSource(new int[] {model}, new int[] {row}, false);
        }

        public boolean isZeros() {
            return !padding && models.length == 0;
        }

        @Override
        public String toString() {
            if (padding) return "padding";
            StringBuilder b = new StringBuilder(models.length > 1 ? "mean(" : "(");
            for (int i = 0; i < models.length; i++) b.append(i > 0 ? ", " : "").append(models[i]).append(':').append(rows[i]);
            return b.append(')').toString();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RowSource r && padding == r.padding && Arrays.equals(models, r.models)
                    && Arrays.equals(rows, r.rows);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(models) * 31 + Arrays.hashCode(rows) + (padding ? 1 : 0);
        }
    }

    /**
     * A resolved {@code tokenizer.tokens} entry: participant {@code model}'s row {@code row} (-1: its row of the
     * token itself), or zeros; {@code force} applies it to participants that have the token too.
     */
    public record TokenOverride(int model, int row, boolean zero, boolean force) {
        public static TokenOverride zero(boolean force) {
            return new TokenOverride(-1, -1, true, force);
        }
    }

    private final List<String> tokens;
    private final int rows;
    private final List<List<RowSource>> sources;

    private VocabularyMapping(List<String> tokens, int rows, List<List<RowSource>> sources) {
        this.tokens = tokens;
        this.rows = rows;
        this.sources = sources;
    }

    /**
     * The union vocabulary: participant {@code reference}'s tokens at their own ids, then the tokens it lacks,
     * participant by participant, each in its id order, from one past the reference's highest id.
     *
     * @return tokens by output id ({@code null} for a gap in the reference's ids)
     */
    public static List<String> union(List<Map<String, Integer>> vocabularies, int reference) {
        Map<String, Integer> ref = vocabularies.get(reference);
        int size = ref.values().stream().mapToInt(i -> i + 1).max().orElse(0);
        List<String> out = new ArrayList<>(java.util.Collections.nCopies(size, (String) null));
        Map<String, Integer> seen = new HashMap<>();
        ref.entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(e -> {
            if (out.get(e.getValue()) == null && !seen.containsKey(e.getKey())) {
                out.set(e.getValue(), e.getKey());
                seen.put(e.getKey(), e.getValue());
            }
        });
        for (Map<String, Integer> v : vocabularies) {
            for (Map.Entry<String, Integer> e : v.entrySet().stream().sorted(Map.Entry.comparingByValue()).toList()) {
                if (!seen.containsKey(e.getKey())) {
                    seen.put(e.getKey(), out.size());
                    out.add(e.getKey());
                }
            }
        }
        return out;
    }

    /**
     * @param vocabularies    each participant's tokens → ids (ids below its embedding rows)
     * @param base            the base's participant index, or -1 without a base model
     * @param tokens          the output tokens by id ({@code null}: a row without a token)
     * @param padToMultipleOf the output row count is rounded up to a multiple of this (1: no padding)
     * @param overrides       {@code tokenizer.tokens}, resolved to participant indices
     */
    public static VocabularyMapping build(List<Map<String, Integer>> vocabularies, int base, List<String> tokens,
                                          int padToMultipleOf, Map<String, TokenOverride> overrides) {
        if (padToMultipleOf < 1) throw new IllegalArgumentException("padToMultipleOf < 1");
        int rows = (int) Math.ceilDiv((long) tokens.size(), padToMultipleOf) * padToMultipleOf;
        Map<String, RowSource> defaults = new LinkedHashMap<>();
        List<List<RowSource>> sources = new ArrayList<>();
        for (int j = 0; j < vocabularies.size(); j++) {
            List<RowSource> rowsOfJ = new ArrayList<>(rows);
            for (int r = 0; r < rows; r++) {
                String t = r < tokens.size() ? tokens.get(r) : null;
                if (t == null) {
                    rowsOfJ.add(RowSource.PADDING);
                    continue;
                }
                TokenOverride o = overrides.get(t);
                Integer own = vocabularies.get(j).get(t);
                if (own != null && (o == null || !o.force())) {
                    rowsOfJ.add(RowSource.of(j, own));
                } else {
                    rowsOfJ.add(defaults.computeIfAbsent(t, k -> fallback(k, o, vocabularies, base)));
                }
            }
            sources.add(List.copyOf(rowsOfJ));
        }
        return new VocabularyMapping(List.copyOf(new ArrayList<>(tokens)), rows, List.copyOf(sources));
    }

    private static RowSource fallback(String t, TokenOverride o, List<Map<String, Integer>> vocabularies, int base) {
        if (o != null) {
            if (o.zero()) return RowSource.ZEROS;
            int row = o.row() >= 0 ? o.row() : vocabularies.get(o.model()).getOrDefault(t, -1);
            if (row < 0) throw new IllegalArgumentException("participant " + o.model() + " has no token '" + t + "'");
            return RowSource.of(o.model(), row);
        }
        List<Integer> holders = new ArrayList<>();
        for (int k = 0; k < vocabularies.size(); k++) if (vocabularies.get(k).containsKey(t)) holders.add(k);
        if (holders.isEmpty()) return RowSource.ZEROS;
        if (holders.size() == 1) return RowSource.of(holders.get(0), vocabularies.get(holders.get(0)).get(t));
        if (base >= 0 && vocabularies.get(base).containsKey(t)) return RowSource.of(base, vocabularies.get(base).get(t));
        int[] m = new int[holders.size()];
        int[] r = new int[holders.size()];
        for (int i = 0; i < m.length; i++) {
            m[i] = holders.get(i);
            r[i] = vocabularies.get(m[i]).get(t);
        }
        return new RowSource(m, r, false);
    }

    /** The output tokens by id ({@code null}: a row without a token); {@link #rows()} may be larger (padding). */
    public List<String> tokens() {
        return tokens;
    }

    /** The output's vocabulary rows: the tokens' id range, rounded up to {@code pad_to_multiple_of}. */
    public int rows() {
        return rows;
    }

    /** Where participant j's output row for each output id comes from. */
    public List<RowSource> rowsOf(int participant) {
        return sources.get(participant);
    }

    /** True when participant j's rows are its own rows 0..n-1 in order, for {@code n} = its row count. */
    public boolean isIdentity(int participant, long participantRows) {
        if (participantRows != rows) return false;
        List<RowSource> s = sources.get(participant);
        for (int r = 0; r < rows; r++) {
            RowSource x = s.get(r);
            if (x.padding || x.models.length != 1 || x.models[0] != participant || x.rows[0] != r) return false;
        }
        return true;
    }
}
