package io.mergestream.testdata;

import io.mergestream.format.CheckpointFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.tensor.DType;
import io.mergestream.testdata.FamilySpec.Architecture;
import io.mergestream.testdata.FamilySpec.DeltaKind;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FamilyGeneratorTest {

    @TempDir
    Path tmp;

    /** Tiny Llama with grouped-query attention: q 64x32, k/v 32x32. */
    static final FamilySpec LLAMA = FamilySpec.llama().withLayers(2).withHidden(32).withIntermediate(48)
            .withVocab(40).withHeads(4).withKvHeads(2).withFineTunes(2).withSeed(7);
    static final FamilySpec BERT = FamilySpec.bert().withLayers(2).withHidden(16).withIntermediate(32)
            .withVocab(30).withHeads(2).withPositions(8).withFineTunes(3).withSeed(7);

    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    // ---- read-back: names, shapes, dtypes -------------------------------------------------------------

    @Test
    void llamaFamilyReadsBackWithLlamaNamesShapesAndDtype() {
        Path out = new FamilyGenerator(LLAMA, 2).generate(tmp.resolve("fam"), false).directory();
        Map<String, long[]> expected = new LinkedHashMap<>();
        expected.put("model.embed_tokens.weight", new long[] {40, 32});
        for (int n = 0; n < 2; n++) {
            String p = "model.layers." + n + ".";
            expected.put(p + "self_attn.q_proj.weight", new long[] {32, 32});
            expected.put(p + "self_attn.k_proj.weight", new long[] {16, 32});
            expected.put(p + "self_attn.v_proj.weight", new long[] {16, 32});
            expected.put(p + "self_attn.o_proj.weight", new long[] {32, 32});
            expected.put(p + "mlp.gate_proj.weight", new long[] {48, 32});
            expected.put(p + "mlp.up_proj.weight", new long[] {48, 32});
            expected.put(p + "mlp.down_proj.weight", new long[] {32, 48});
            expected.put(p + "input_layernorm.weight", new long[] {32});
            expected.put(p + "post_attention_layernorm.weight", new long[] {32});
        }
        expected.put("model.norm.weight", new long[] {32});
        expected.put("lm_head.weight", new long[] {40, 32});
        for (String m : List.of("base", "ft1", "ft2")) {
            try (Checkpoint c = Checkpoint.open(out.resolve(m))) {
                assertShapes(expected, c, DType.BF16);
                // norm scales near 1, weights near 0
                assertEquals(1.0, mean(c.tensor("model.norm.weight")), 0.02);
                assertEquals(0.0, mean(c.tensor("lm_head.weight")), 0.01);
            }
            JsonNode cfg = Json.read(out.resolve(m).resolve("config.json"));
            assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
            assertEquals("llama", cfg.get("model_type").asText());
            assertEquals(32, cfg.get("hidden_size").asInt());
            assertEquals(48, cfg.get("intermediate_size").asInt());
            assertEquals(2, cfg.get("num_hidden_layers").asInt());
            assertEquals(4, cfg.get("num_attention_heads").asInt());
            assertEquals(2, cfg.get("num_key_value_heads").asInt());
            assertEquals(40, cfg.get("vocab_size").asInt());
            assertEquals("bfloat16", cfg.get("torch_dtype").asText());
            assertFalse(cfg.get("tie_word_embeddings").asBoolean());
            for (String f : List.of("generation_config.json", "tokenizer_config.json", "special_tokens_map.json")) {
                assertTrue(Json.read(out.resolve(m).resolve(f)).isObject(), f);
            }
            JsonNode tok = Json.read(out.resolve(m).resolve("tokenizer.json"));
            assertEquals(40, tok.get("model").get("vocab").size());
            assertEquals("BPE", tok.get("model").get("type").asText());
        }
        assertEquals(3, Json.read(out.resolve(FamilyGenerator.FAMILY_FILE)).get("models").size());
    }

    @Test
    void bertFamilyHasBertNamesAndPerFineTuneClassifiers() throws IOException {
        Path out = new FamilyGenerator(BERT, 2).generate(tmp.resolve("fam"), false).directory();
        Map<String, long[]> expected = new LinkedHashMap<>();
        expected.put("bert.embeddings.word_embeddings.weight", new long[] {30, 16});
        expected.put("bert.embeddings.position_embeddings.weight", new long[] {8, 16});
        expected.put("bert.embeddings.token_type_embeddings.weight", new long[] {2, 16});
        expected.put("bert.embeddings.LayerNorm.weight", new long[] {16});
        expected.put("bert.embeddings.LayerNorm.bias", new long[] {16});
        for (int n = 0; n < 2; n++) {
            String p = "bert.encoder.layer." + n + ".";
            for (String q : List.of("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")) {
                expected.put(p + q + ".weight", new long[] {16, 16});
                expected.put(p + q + ".bias", new long[] {16});
            }
            expected.put(p + "attention.output.LayerNorm.weight", new long[] {16});
            expected.put(p + "attention.output.LayerNorm.bias", new long[] {16});
            expected.put(p + "intermediate.dense.weight", new long[] {32, 16});
            expected.put(p + "intermediate.dense.bias", new long[] {32});
            expected.put(p + "output.dense.weight", new long[] {16, 32});
            expected.put(p + "output.dense.bias", new long[] {16});
            expected.put(p + "output.LayerNorm.weight", new long[] {16});
            expected.put(p + "output.LayerNorm.bias", new long[] {16});
        }
        expected.put("bert.pooler.dense.weight", new long[] {16, 16});
        expected.put("bert.pooler.dense.bias", new long[] {16});
        try (Checkpoint c = Checkpoint.open(out.resolve("base"))) {
            assertShapes(expected, c, DType.F32);
            assertNull(c.tensor("classifier.weight"), "a pre-trained BERT has no task head");
        }
        assertEquals("BertModel", Json.read(out.resolve("base/config.json")).get("architectures").get(0).asText());
        int[] labels = {2, 3, 1};
        for (int k = 1; k <= 3; k++) {
            Map<String, long[]> withHead = new LinkedHashMap<>(expected);
            withHead.put("classifier.weight", new long[] {labels[k - 1], 16});
            withHead.put("classifier.bias", new long[] {labels[k - 1]});
            try (Checkpoint c = Checkpoint.open(out.resolve("ft" + k))) {
                assertShapes(withHead, c, DType.F32);
            }
            JsonNode cfg = Json.read(out.resolve("ft" + k + "/config.json"));
            assertEquals("BertForSequenceClassification", cfg.get("architectures").get(0).asText());
            assertEquals("bert", cfg.get("model_type").asText());
            assertEquals(labels[k - 1], cfg.get("num_labels").asInt());
            assertEquals(labels[k - 1], cfg.get("id2label").size());
        }
        assertEquals(30, Files.readAllLines(out.resolve("base/vocab.txt")).size());
    }

    // ---- determinism ----------------------------------------------------------------------------------

    @Test
    void bytesDoNotDependOnThreadsOrChunkSize() throws IOException {
        for (FamilySpec s : List.of(LLAMA.withDtype(DType.F16).withShardBytes(6000), BERT.withDtype(DType.BF16))) {
            Path a = new FamilyGenerator(s, 1).generate(tmp.resolve("a"), true).directory();
            Path b = new FamilyGenerator(s, 3, 64).generate(tmp.resolve("b"), true).directory();
            assertSameFiles(a, b);
        }
    }

    @Test
    void anotherSeedGivesOtherValues() throws IOException {
        Path a = new FamilyGenerator(LLAMA, 2).generate(tmp.resolve("a"), false).directory();
        Path b = new FamilyGenerator(LLAMA.withSeed(8), 2).generate(tmp.resolve("b"), false).directory();
        byte[] x = Files.readAllBytes(a.resolve("base/model.safetensors"));
        byte[] y = Files.readAllBytes(b.resolve("base/model.safetensors"));
        assertEquals(x.length, y.length);
        assertFalse(Arrays.equals(x, y));
        // and fine-tunes differ from each other and from the base
        assertFalse(Arrays.equals(x, Files.readAllBytes(a.resolve("ft1/model.safetensors"))));
        assertFalse(Arrays.equals(Files.readAllBytes(a.resolve("ft1/model.safetensors")),
                Files.readAllBytes(a.resolve("ft2/model.safetensors"))));
    }

    @Test
    void valueIsWhatTheFileHoldsBeforeRounding() {
        Path out = new FamilyGenerator(LLAMA.withDtype(DType.F32), 2).generate(tmp.resolve("fam"), false).directory();
        FamilyGenerator g = new FamilyGenerator(LLAMA.withDtype(DType.F32), 1);
        try (Checkpoint c = Checkpoint.open(out.resolve("ft2"))) {
            StoredTensor t = c.tensor("model.layers.1.mlp.down_proj.weight");
            for (long i : new long[] {0, 1, 777, t.info().elements() - 1}) {
                assertEquals(g.value("ft2", t.name(), i), decode(t, i));
            }
        }
    }

    // ---- deltas ---------------------------------------------------------------------------------------

    @Test
    void sftDeltasAreMostlyBelowFiveThousandths() {
        FamilySpec s = LLAMA.withHidden(64).withIntermediate(128).withVocab(256);
        Path out = new FamilyGenerator(s, 2).generate(tmp.resolve("fam"), false).directory();
        for (String ft : List.of("ft1", "ft2")) {
            double[] d = absDeltas(out.resolve("base"), out.resolve(ft));
            assertTrue(d.length > 100_000, "enough samples: " + d.length);
            double below = Arrays.stream(d).filter(x -> x < 0.005).count() / (double) d.length;
            assertTrue(below > 0.9, ft + ": fraction of |delta| < 0.005 is " + below);
            double median = median(d);
            assertTrue(median > 0.0004 && median < 0.003, ft + ": median |delta| " + median);
        }
    }

    @Test
    void largeDeltasHaveMedianNearThreeHundredths() {
        FamilySpec s = LLAMA.withDeltas(DeltaKind.LARGE).withHidden(64).withIntermediate(128).withVocab(256);
        Path out = new FamilyGenerator(s, 2).generate(tmp.resolve("fam"), false).directory();
        double median = median(absDeltas(out.resolve("base"), out.resolve("ft1")));
        assertTrue(median > 0.015 && median < 0.06, "median |delta| " + median);
    }

    @Test
    void unrelatedBaseDoesNotLookLikeTheOrigin() {
        FamilySpec s = LLAMA.withUnrelatedBase(true);
        Path out = new FamilyGenerator(s, 2).generate(tmp.resolve("fam"), false).directory();
        double[] unrelated = absDeltas(out.resolve("base"), out.resolve("ft1"));
        double below = Arrays.stream(unrelated).filter(x -> x < 0.005).count() / (double) unrelated.length;
        assertTrue(below < 0.4, "fraction of |ft - base| < 0.005 with an unrelated base: " + below);
        // while the fine-tunes still share their (unwritten) origin: close to each other
        double[] siblings = absDeltas(out.resolve("ft1"), out.resolve("ft2"));
        double close = Arrays.stream(siblings).filter(x -> x < 0.01).count() / (double) siblings.length;
        assertTrue(close > 0.9, "fine-tunes of one origin stay close: " + close);
    }

    // ---- sharding -------------------------------------------------------------------------------------

    @Test
    void smallShardSizeGivesShardsIndexAndAlignedHeaders() {
        FamilySpec s = LLAMA.withShardBytes(8_000).withShardedModels(List.of("ft1"));
        Path out = new FamilyGenerator(s, 2).generate(tmp.resolve("fam"), false).directory();
        assertTrue(Files.isRegularFile(out.resolve("base/model.safetensors")));
        assertFalse(Files.exists(out.resolve("base/model.safetensors.index.json")));
        Path ft1 = out.resolve("ft1");
        assertFalse(Files.exists(ft1.resolve("model.safetensors")));
        JsonNode index = Json.read(ft1.resolve(CheckpointFiles.INDEX_FILE));
        try (Checkpoint c = Checkpoint.open(ft1)) {
            assertTrue(c.shards().size() >= 3, "shards: " + c.shards().size());
            long sum = c.tensors().stream().mapToLong(t -> t.info().byteSize()).sum();
            assertEquals(sum, index.get("metadata").get("total_size").asLong());
            assertEquals(c.tensorCount(), index.get("weight_map").size());
            for (SafetensorsFile f : c.shards().stream().map(SafetensorsFile.class::cast).toList()) {
                assertEquals(0, f.headerLength() % 8, f.path() + " header length " + f.headerLength());
                assertTrue(f.path().getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors"));
            }
        }
    }

    @Test
    void existingOutputIsRefusedWithoutForceAndNoPartialDirectoryRemains() throws IOException {
        Path out = tmp.resolve("fam");
        new FamilyGenerator(LLAMA, 1).generate(out, false);
        assertThrows(RuntimeException.class, () -> new FamilyGenerator(LLAMA, 1).generate(out, false));
        new FamilyGenerator(LLAMA.withSeed(99), 1).generate(out, true);
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of("fam"), s.map(p -> p.getFileName().toString()).toList());
        }
        try (Stream<Path> s = Files.list(out)) {
            assertEquals(List.of(".mergestream-output.json", "base", "family.json", "ft1", "ft2"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    // ---- target size ----------------------------------------------------------------------------------

    @Test
    void targetSizeIsReachedWithinTenPercent() {
        for (Architecture a : Architecture.values()) {
            for (long target : new long[] {30_000_000L, 100_000_000L, 1_000_000_000L}) {
                FamilySpec r = FamilySpec.of(a).withVocab(32000).withPositions(512).withTargetBytes(target).resolve();
                double ratio = r.baseModelBytes() / (double) target;
                assertTrue(ratio > 0.9 && ratio < 1.1, a + " " + target + " -> " + r.baseModelBytes() + " " + r);
                assertEquals(0, r.hidden() % 64);
                assertEquals(0, r.targetBytes());
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------

    private static void assertShapes(Map<String, long[]> expected, Checkpoint c, DType dtype) {
        Map<String, long[]> actual = new LinkedHashMap<>();
        for (StoredTensor t : c.tensors()) {
            actual.put(t.name(), t.info().shape());
            assertEquals(dtype, t.info().dtype(), t.name());
        }
        assertEquals(new java.util.TreeSet<>(expected.keySet()), new java.util.TreeSet<>(actual.keySet()));
        expected.forEach((n, shape) -> assertArrayEquals(shape, actual.get(n), n));
    }

    static float decode(StoredTensor t, long i) {
        MemorySegment d = t.data();
        return switch (t.info().dtype()) {
            case BF16 -> Float.intBitsToFloat(d.get(SHORT_LE, i * 2) << 16);
            case F16 -> Float.float16ToFloat(d.get(SHORT_LE, i * 2));
            case F32 -> d.get(FLOAT_LE, i * 4);
            default -> throw new AssertionError(t.info().dtype());
        };
    }

    private static double mean(StoredTensor t) {
        double s = 0;
        long n = t.info().elements();
        for (long i = 0; i < n; i++) s += decode(t, i);
        return s / n;
    }

    /** |b - a| over every element of every tensor both models have, decoded independently of the generator. */
    static double[] absDeltas(Path a, Path b) {
        List<double[]> parts = new ArrayList<>();
        int total = 0;
        try (Checkpoint x = Checkpoint.open(a); Checkpoint y = Checkpoint.open(b)) {
            for (StoredTensor t : x.tensors()) {
                StoredTensor u = y.tensor(t.name());
                if (u == null) continue;
                assertArrayEquals(t.info().shape(), u.info().shape(), t.name());
                double[] d = new double[Math.toIntExact(t.info().elements())];
                for (int i = 0; i < d.length; i++) d[i] = Math.abs((double) decode(u, i) - decode(t, i));
                parts.add(d);
                total += d.length;
            }
        }
        double[] all = new double[total];
        int at = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    static void assertSameFiles(Path a, Path b) throws IOException {
        List<Path> fa = relativeFiles(a);
        assertEquals(fa, relativeFiles(b), "same file names");
        assertFalse(fa.isEmpty());
        for (Path rel : fa) {
            assertEquals(-1L, Files.mismatch(a.resolve(rel), b.resolve(rel)), "first differing byte of " + rel);
        }
    }

    static List<Path> relativeFiles(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }

    @Test
    void generatorCanBeAskedAboutItsModelsWithoutWriting() {
        FamilyGenerator g = new FamilyGenerator(BERT, 1);
        assertEquals(List.of("base", "ft1", "ft2", "ft3"), g.modelNames());
        assertNotNull(g.layout("ft2"));
        assertEquals(g.tensors("base").size() + 2, g.tensors("ft2").size());
        assertThrows(IllegalArgumentException.class, () -> g.value("ft9", "x", 0));
    }
}
