package io.mergestream.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.TestModels;
import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A family whose fine-tunes add tokens, as WizardMath and Code Alpaca do: the base has 32 tokens; ft1 adds
 * {@code <math>} (id 32); ft2 adds {@code <code>} (id 32) and {@code <math>} (id 33). Every output row of
 * embed_tokens and lm_head is checked against a computation written here, and the tokenizer files and
 * vocab_size of the output against the vocabulary.
 */
class VocabularyMergeTest {

    static final int H = 4;
    static final List<String> BASE = baseTokens();
    static final String EMBED = "model.embed_tokens.weight", HEAD = "lm_head.weight";

    @TempDir
    Path dir;
    Path base, ft1, ft2;

    static List<String> baseTokens() {
        List<String> t = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        for (int i = 3; i < 32; i++) t.add("t" + i);
        return List.copyOf(t);
    }

    /** Exactly representable values, distinct per model, tensor, row and column. */
    static float value(int model, int tensor, int row, int col) {
        return (model + 1) * 0.5f + tensor * 0.0625f + row * 0.25f + col * 0.125f - 4f;
    }

    static Path model(Path d, int id, List<String> tokens, int extraRows) {
        int rows = tokens.size() + extraRows;
        TestModels.Model m = new TestModels.Model();
        String[] names = {EMBED, HEAD};
        for (int k = 0; k < 2; k++) {
            float[] v = new float[rows * H];
            for (int r = 0; r < rows; r++) for (int c = 0; c < H; c++) v[r * H + c] = value(id, k, r, c);
            m.put(names[k], new long[] {rows, H}, v);
        }
        float[] w = new float[H * H];
        for (int i = 0; i < w.length; i++) w[i] = id + i * 0.5f;
        m.put("model.layers.0.mlp.down_proj.weight", new long[] {H, H}, w);
        TestModels.write(d, DType.F32, m);
        ObjectNode tok = Json.MAPPER.createObjectNode();
        tok.put("version", "1.0");
        ArrayNode added = tok.putArray("added_tokens");
        ObjectNode vocab = Json.MAPPER.createObjectNode();
        ObjectNode decoder = Json.MAPPER.createObjectNode();
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            if (t.startsWith("<")) {
                boolean special = i < 3;
                added.addObject().put("id", i).put("content", t).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", !special).put("special", special);
                decoder.putObject(Integer.toString(i)).put("content", t).put("lstrip", false).put("normalized", !special)
                        .put("rstrip", false).put("single_word", false).put("special", special);
            }
            if (i < 32) vocab.put(t, i);
        }
        ObjectNode mo = tok.putObject("model");
        mo.put("type", "BPE");
        mo.set("vocab", vocab);
        mo.putArray("merges");
        Json.writePretty(d.resolve("tokenizer.json"), tok);
        ObjectNode tc = Json.MAPPER.createObjectNode();
        tc.put("add_bos_token", true);
        tc.set("added_tokens_decoder", decoder);
        tc.put("bos_token", "<s>");
        tc.put("eos_token", "</s>");
        Json.writePretty(d.resolve("tokenizer_config.json"), tc);
        ObjectNode cfg = Json.MAPPER.createObjectNode();
        cfg.put("model_type", "llama");
        cfg.put("vocab_size", rows);
        Json.writePretty(d.resolve("config.json"), cfg);
        return d;
    }

    @BeforeEach
    void family() {
        base = model(dir.resolve("base"), 0, BASE, 0);
        List<String> t1 = new ArrayList<>(BASE);
        t1.add("<math>");
        ft1 = model(dir.resolve("ft1"), 1, t1, 0);
        List<String> t2 = new ArrayList<>(BASE);
        t2.add("<code>");
        t2.add("<math>");
        ft2 = model(dir.resolve("ft2"), 2, t2, 0);
    }

    Path merge(String recipeBody) throws IOException {
        Path recipe = dir.resolve("r.yml");
        Files.writeString(recipe, recipeBody);
        Path out = dir.resolve("out");
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", out.toString(), "-q", "--force"));
        return out;
    }

    static float[] rows(Path model, String tensor) {
        try (Checkpoint c = Checkpoint.open(model)) {
            return TestModels.decodeAll(c.tensor(tensor).data(), DType.F32);
        }
    }

    static final String TA = """
            merge_method: task_arithmetic
            base_model: base
            models:
              - model: ft1
                parameters: {weight: 0.5}
              - model: ft2
                parameters: {weight: 0.3}
            dtype: float32
            """;

    /** b + 0.5 (x1 - b) + 0.3 (x2 - b), in f32 as the task-arithmetic definition orders it (weights not summing to 1, so the base's row counts). */
    static float ta(float b, float x1, float x2) {
        float mixed = 0.5f * (x1 - b) + 0.3f * (x2 - b);
        return b + mixed;
    }

    @Test
    void unionRebuildsEveryRowThenMerges() throws IOException {
        Path out = merge(TA + "tokenizer_source: union\n");
        for (int k = 0; k < 2; k++) {
            String name = k == 0 ? EMBED : HEAD;
            float[] o = rows(out, name);
            assertEquals(34 * H, o.length, name + ": 32 base tokens, <math>, <code>");
            for (int c = 0; c < H; c++) {
                for (int r = 0; r < 32; r++) {
                    assertEquals(ta(value(0, k, r, c), value(1, k, r, c), value(2, k, r, c)), o[r * H + c], 1e-6f, name + " row " + r);
                }
                // <math> (output id 32): the base lacks it, ft1 (row 32) and ft2 (row 33) have it: the base gets their mean
                float mean = (value(1, k, 32, c) + value(2, k, 33, c)) / 2f;
                assertEquals(ta(mean, value(1, k, 32, c), value(2, k, 33, c)), o[32 * H + c], 1e-6f, name + " <math>");
                // <code> (output id 33): only ft2 has it (row 32): the base and ft1 take it, so no delta: ft2's row
                assertEquals(value(2, k, 32, c), o[33 * H + c], 1e-6f, name + " <code>");
            }
        }
        assertEquals(34, Json.read(out.resolve("config.json")).get("vocab_size").asInt());
        JsonNode tok = Json.read(out.resolve("tokenizer.json"));
        Vocabulary v = Vocabulary.read(out, "out");
        assertEquals(34, v.size());
        assertEquals(32, v.ids().get("<math>"));
        assertEquals(33, v.ids().get("<code>"));
        assertEquals(32, tok.get("model").get("vocab").size(), "the base's model vocabulary, unchanged");
        JsonNode decoder = Json.read(out.resolve("tokenizer_config.json")).get("added_tokens_decoder");
        assertEquals(List.of("0", "1", "2", "32", "33"), iterate(decoder.fieldNames()));
        assertEquals("<code>", decoder.get("33").get("content").asText());
        assertFalse(decoder.get("33").get("special").asBoolean());
    }

    @Test
    void aModelAsTokenizerSourceGivesItsVocabulary() throws IOException {
        Path out = merge("""
                merge_method: linear
                models:
                  - model: base
                    parameters: {weight: 1.0}
                  - model: ft2
                    parameters: {weight: 1.0}
                dtype: float32
                tokenizer_source: ft2
                """);
        float[] o = rows(out, EMBED);
        assertEquals(34 * H, o.length);
        for (int c = 0; c < H; c++) {
            for (int r = 0; r < 32; r++) assertEquals((value(0, 0, r, c) + value(2, 0, r, c)) / 2f, o[r * H + c], 1e-6f);
            // the base lacks <code> and <math>: it takes ft2's rows (the only holder), so the mean is ft2's row
            for (int r = 32; r < 34; r++) assertEquals(value(2, 0, r, c), o[r * H + c], 1e-6f, "row " + r);
        }
        assertArrayEquals(Files.readAllBytes(ft2.resolve("tokenizer.json")), Files.readAllBytes(out.resolve("tokenizer.json")));
        assertEquals(34, Json.read(out.resolve("config.json")).get("vocab_size").asInt());
    }

    @Test
    void tokenizerBlockWithOverridesAndPadding() throws IOException {
        Path out = merge(TA + """
                tokenizer:
                  source: union
                  pad_to_multiple_of: 8
                  tokens:
                    "<math>": {source: ft2, force: true}
                    "<new>": {source: {kind: model_token, model: base, token: "<s>"}}
                """);
        float[] o = rows(out, EMBED);
        assertEquals(40 * H, o.length, "35 tokens padded to 40 rows");
        for (int c = 0; c < H; c++) {
            assertEquals(value(2, 0, 33, c), o[32 * H + c], 1e-6f, "<math> forced from ft2 for every model");
            assertEquals(value(0, 0, 1, c), o[34 * H + c], 1e-6f, "<new> from the base's <s>");
            double[] means = new double[3];
            int[] n = {32, 33, 34};
            for (int m = 0; m < 3; m++) {
                for (int r = 0; r < n[m]; r++) means[m] += value(m, 0, r, c);
                means[m] /= n[m];
            }
            float pad = ta((float) means[0], (float) means[1], (float) means[2]);
            for (int r = 35; r < 40; r++) assertEquals(pad, o[r * H + c], 1e-5f, "padding row " + r);
        }
        assertEquals(40, Json.read(out.resolve("config.json")).get("vocab_size").asInt());
        Vocabulary v = Vocabulary.read(out, "out");
        assertEquals(34, v.ids().get("<new>"));
        assertEquals(List.of("0", "1", "2", "32", "33", "34"),
                iterate(Json.read(out.resolve("tokenizer_config.json")).get("added_tokens_decoder").fieldNames()));
    }

    @Test
    void tokensPastTheEmbeddingRowsAreDropped() throws IOException {
        // ft1's tokenizer knows <math> but its embeddings stop at row 32: it cannot use it (mergekit strips it too)
        Path short1 = model(dir.resolve("ft1short"), 1, BASE, 0);
        Files.copy(ft1.resolve("tokenizer.json"), short1.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Path out = merge(TA.replace("model: ft1", "model: ft1short") + "tokenizer_source: union\n");
        Vocabulary v = Vocabulary.read(out, "out");
        assertEquals(32, v.ids().get("<code>"), "<code> comes first: ft1's <math> is not in its vocabulary");
        assertEquals(33, v.ids().get("<math>"));
    }

    @Test
    void errorsAreOneLine() throws IOException {
        Files.delete(ft1.resolve("tokenizer.json"));
        Files.writeString(ft1.resolve("tokenizer.model"), "sentencepiece bytes");
        String m = fails(TA + "tokenizer_source: union\n");
        assertTrue(m.contains("model 'ft1' has only tokenizer.model") && m.contains("needs tokenizer.json"), m);
        // mergekit ignores unknown keys, so mergestream only warns about them unless --strict
        m = fails(TA + "tokenizer:\n  source: union\n  padding: 8\n", "--strict");
        assertTrue(m.contains("tokenizer.padding: unknown key"), m);
        m = fails(TA + "tokenizer_source: union\nexclude: ['lm_head']\n");
        assertTrue(m.contains("'lm_head.weight' holds the vocabulary"), m);
    }

    @Test
    void anOverrideNamingAModelOutsideTheMergeFails() throws IOException {
        String m = fails(TA + "tokenizer:\n  tokens:\n    \"<math>\": {source: elsewhere}\n");
        assertTrue(m.contains("tokenizer.tokens.<math>.source: model 'elsewhere' is not one of the merged models"), m);
        m = fails(TA + "tokenizer:\n  tokens:\n    \"<code>\": {source: ft1}\n");
        assertTrue(m.contains("model 'ft1' has no token '<code>'"), m);
    }

    String fails(String body, String... options) throws IOException {
        Path recipe = dir.resolve("r.yml");
        Files.writeString(recipe, body);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            List<String> args = new ArrayList<>(List.of("merge", recipe.toString(), "-o", dir.resolve("out-bad").toString(), "-q"));
            args.addAll(List.of(options));
            code = Main.run(args.toArray(String[]::new));
        } finally {
            System.setErr(old);
        }
        String message = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(2, code, message);
        assertEquals(1, message.lines().count(), message);
        assertFalse(Files.exists(dir.resolve("out-bad")));
        return message;
    }

    static List<String> iterate(java.util.Iterator<String> it) {
        List<String> l = new ArrayList<>();
        it.forEachRemaining(l::add);
        return l;
    }
}
