package io.mergestream.fuzz;

import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.tokenizer.Vocabulary;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzz target for the tokenizer vocabulary reader ({@link Vocabulary#read}). The input is
 * {@code tokenizer.json}, then optionally after a NUL byte {@code tokenizer_config.json}, then after another
 * {@code added_tokens.json} (JSON text holds no NUL byte, so the split is unambiguous).
 */
class VocabularyFuzzTest {

    @TempDir
    static Path dir;

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzVocabulary(byte[] input) {
        FuzzSupport.clear(dir);
        byte[][] parts = split(input);
        FuzzSupport.write(dir.resolve(Vocabulary.TOKENIZER_JSON), parts[0]);
        if (parts[1] != null) FuzzSupport.write(dir.resolve("tokenizer_config.json"), parts[1]);
        if (parts[2] != null) FuzzSupport.write(dir.resolve("added_tokens.json"), parts[2]);
        FuzzSupport.refusedOr(() -> {
            Vocabulary v = Vocabulary.read(dir, "fuzz model");
            for (Map.Entry<Integer, String> e : v.byId().entrySet()) {
                check(e.getKey() >= 0, "negative token id " + e.getKey() + " ('" + e.getValue() + "')");
                check(e.getKey() < v.size(), "id " + e.getKey() + " not below size() " + v.size());
                Integer id = v.ids().get(e.getValue());
                check(id != null && id <= e.getKey() && v.byId().get(id).equals(e.getValue()),
                        "ids and byId disagree on '" + e.getValue() + "'");
            }
            check(v.ids().size() <= v.byId().size(), "more tokens than ids");
            for (Map.Entry<String, Integer> e : v.ids().entrySet()) {
                check(e.getValue() != null && e.getKey().equals(v.byId().get(e.getValue())), "ids maps '" + e.getKey()
                        + "' to an id byId does not give it");
            }
            for (String content : v.added().keySet()) check(v.ids().containsKey(content), "added token '" + content + "' has no id");
            check(v.byId().isEmpty() ? v.size() == 0 : v.size() == v.byId().lastKey() + 1L, "size() " + v.size());
            if (v.size() > 1) {
                Vocabulary half = v.below(v.size() / 2);
                check(half.byId().isEmpty() || half.byId().lastKey() < v.size() / 2, "below() kept an id past its bound");
                check(v.byId().headMap(v.size() / 2).equals(half.byId()), "below() dropped ids under its bound");
            }
            if (planted("vocabulary") && v.size() > 1000) {
                // stands in for a fixed-size id table
                throw new FuzzSupport.PlantedBug("a vocabulary of " + v.size() + " ids");
            }
        });
    }

    /** tokenizer.json, tokenizer_config.json (or null), added_tokens.json (or null). */
    static byte[][] split(byte[] input) {
        byte[][] parts = new byte[3][];
        int start = 0;
        for (int i = 0; i < 3; i++) {
            int nul = i == 2 ? -1 : indexOf(input, start);
            int end = nul < 0 ? input.length : nul;
            parts[i] = Arrays.copyOfRange(input, start, end);
            if (nul < 0) break;
            start = nul + 1;
        }
        return parts;
    }

    private static int indexOf(byte[] b, int from) {
        for (int i = from; i < b.length; i++) if (b[i] == 0) return i;
        return -1;
    }
}
