package io.mergestream.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The union vocabulary of a family whose fine-tunes add tokens, and each model's row sources. */
class VocabularyUnionTest {

    @Test
    void unionKeepsBaseOrderThenAppendsNewTokensInModelOrder() {
        List<String> base = List.of("<s>", "a", "b");
        List<String> ft1 = List.of("<s>", "a", "b", "<tool>", "<x>");
        List<String> ft2 = List.of("<s>", "b", "a", "<x>", "<y>");
        VocabularyUnion u = VocabularyUnion.of(base, List.of(ft1, ft2));
        assertEquals(List.of("<s>", "a", "b", "<tool>", "<x>", "<y>"), u.tokens());

        // ft2 has a and b at swapped ids: its own rows, by token
        assertArrayEquals(new int[] {1, 2}, u.rowsOf(1).get(1).rows().get(0));
        // ft2 lacks <tool>: the base lacks it too and only ft1 has it -> ft1's row 3
        assertEquals(1, u.rowsOf(1).get(3).rows().size());
        assertArrayEquals(new int[] {0, 3}, u.rowsOf(1).get(3).rows().get(0));
        // ft1 lacks <y>: only ft2 has it -> ft2's row 4
        assertArrayEquals(new int[] {1, 4}, u.rowsOf(0).get(5).rows().get(0));
        // both have <x>: their own rows
        assertArrayEquals(new int[] {0, 4}, u.rowsOf(0).get(4).rows().get(0));
        assertArrayEquals(new int[] {1, 3}, u.rowsOf(1).get(4).rows().get(0));
    }

    @Test
    void aTokenTheBaseHasComesFromTheBaseAndSeveralHoldersAreAveraged() {
        List<String> base = List.of("a", "b", "c");
        List<String> ft1 = List.of("a", "b");
        List<String> ft2 = List.of("a", "b", "c", "n");
        List<String> ft3 = List.of("a", "b", "n");
        VocabularyUnion u = VocabularyUnion.of(base, List.of(ft1, ft2, ft3));
        assertArrayEquals(new int[] {VocabularyUnion.BASE, 2}, u.rowsOf(0).get(2).rows().get(0));
        List<int[]> n = u.rowsOf(0).get(3).rows();
        assertEquals(2, n.size(), "ft1 lacks n, which ft2 and ft3 have: their mean");
        assertArrayEquals(new int[] {1, 3}, n.get(0));
        assertArrayEquals(new int[] {2, 2}, n.get(1));
        assertEquals(2, VocabularyUnion.paddingRows(6, 8));
    }
}
