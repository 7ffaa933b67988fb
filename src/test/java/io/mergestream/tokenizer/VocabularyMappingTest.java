package io.mergestream.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.mergestream.tokenizer.VocabularyMapping.RowSource;
import io.mergestream.tokenizer.VocabularyMapping.TokenOverride;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The union vocabulary and each participant's row sources, by hand. Participant 0 is the base. */
class VocabularyMappingTest {

    static Map<String, Integer> v(String... tokens) {
        Map<String, Integer> m = new HashMap<>();
        for (int i = 0; i < tokens.length; i++) if (tokens[i] != null) m.put(tokens[i], i);
        return m;
    }

    @Test
    void unionKeepsBaseIdsThenAppendsNewTokensInModelThenIdOrder() {
        List<Map<String, Integer>> vs = List.of(v("<s>", "a", "b"), v("<s>", "a", "b", "<tool>", "<x>"),
                v("<s>", "b", "a", "<x>", "<y>"));
        assertEquals(List.of("<s>", "a", "b", "<tool>", "<x>", "<y>"), VocabularyMapping.union(vs, 0));
        List<String> gap = VocabularyMapping.union(List.of(v("a", null, "c"), v("a", "n")), 0);
        assertEquals(java.util.Arrays.asList("a", null, "c", "n"), gap, "the reference's ids are kept, gaps too");
    }

    @Test
    void ownRowThenBaseThenSoleHolderThenMeanThenZeros() {
        List<Map<String, Integer>> vs = List.of(v("a", "b", "c"), v("a", "b"), v("b", "a", "c", "n"), v("a", "b", "n"));
        List<String> tokens = new ArrayList<>(VocabularyMapping.union(vs, 0));
        tokens.add("z"); // a token no one has (mergekit: zeros)
        VocabularyMapping m = VocabularyMapping.build(vs, 0, tokens, 1, Map.of());
        assertEquals(List.of("a", "b", "c", "n", "z"), m.tokens());
        assertEquals(RowSource.of(2, 1), m.rowsOf(2).get(0), "ft2's own row of a, by token");
        assertEquals(RowSource.of(0, 2), m.rowsOf(1).get(2), "ft1 lacks c: the base's");
        assertEquals(new RowSource(new int[] {2, 3}, new int[] {3, 2}, false), m.rowsOf(1).get(3), "n: mean of ft2, ft3");
        assertEquals(m.rowsOf(1).get(3), m.rowsOf(0).get(3), "the base lacks n too");
        assertTrue(m.rowsOf(0).get(4).isZeros());
        List<Map<String, Integer>> two = List.of(v("a"), v("a", "n"), v("a"));
        VocabularyMapping s = VocabularyMapping.build(two, 0, VocabularyMapping.union(two, 0), 1, Map.of());
        assertEquals(RowSource.of(1, 1), s.rowsOf(2).get(1), "the sole holder's row");
    }

    @Test
    void withoutABaseSeveralHoldersAreAveragedEvenIfTheFirstHasIt() {
        List<Map<String, Integer>> vs = List.of(v("a", "c"), v("a"), v("a", "c"));
        VocabularyMapping m = VocabularyMapping.build(vs, -1, List.of("a", "c"), 1, Map.of());
        assertEquals(new RowSource(new int[] {0, 2}, new int[] {1, 1}, false), m.rowsOf(1).get(1));
    }

    @Test
    void paddingRowsAndOverrides() {
        List<Map<String, Integer>> vs = List.of(v("a", "b"), v("a", "b", "n"));
        Map<String, TokenOverride> o = Map.of("a", new TokenOverride(1, -1, false, true), "n", TokenOverride.zero(false),
                "b", new TokenOverride(1, 2, false, false));
        VocabularyMapping m = VocabularyMapping.build(vs, 0, List.of("a", "b", "n"), 4, o);
        assertEquals(4, m.rows(), "3 tokens padded to a multiple of 4");
        assertEquals(RowSource.PADDING, m.rowsOf(0).get(3));
        assertEquals(RowSource.of(1, 0), m.rowsOf(0).get(0), "forced: even the base takes ft1's a");
        assertEquals(RowSource.of(0, 1), m.rowsOf(0).get(1), "not forced: the base keeps its own b");
        assertTrue(m.rowsOf(0).get(2).isZeros(), "n from zeros for the base");
        assertEquals(RowSource.of(1, 2), m.rowsOf(1).get(2), "ft1 keeps its own n");
        assertFalse(m.isIdentity(1, 3));
        VocabularyMapping same = VocabularyMapping.build(List.of(v("a", "b"), v("a", "b")), 0, List.of("a", "b"), 1, Map.of());
        assertTrue(same.isIdentity(1, 2));
    }
}
