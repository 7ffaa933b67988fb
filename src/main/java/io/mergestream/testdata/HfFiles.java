package io.mergestream.testdata;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.Json;
import io.mergestream.format.ModelFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The non-tensor files of a generated model, shaped like those transformers writes: config.json,
 * generation_config.json (Llama), and small but well-formed tokenizer stand-ins whose vocabulary has the
 * model's vocab_size entries (a byte-fallback BPE tokenizer.json for Llama, a WordPiece vocab.txt for BERT).
 */
final class HfFiles {

    static final String TRANSFORMERS_VERSION = "4.44.0";

    /** GLUE tasks whose label counts the BERT fine-tunes imitate, by label count. */
    private static final List<String> TASK_BY_LABELS = List.of("", "stsb", "sst2", "mnli");

    private HfFiles() {}

    static void write(Path dir, FamilySpec s, int k) {
        if (s.architecture() == FamilySpec.Architecture.LLAMA) {
            Json.writePretty(dir.resolve(ModelFiles.CONFIG), llamaConfig(s));
            ObjectNode gen = Json.MAPPER.createObjectNode();
            gen.put("_from_model_config", true);
            gen.put("bos_token_id", 1);
            gen.put("eos_token_id", 2);
            gen.put("transformers_version", TRANSFORMERS_VERSION);
            Json.writePretty(dir.resolve("generation_config.json"), gen);
            Json.writePretty(dir.resolve("tokenizer.json"), llamaTokenizer(s.vocab()));
            ObjectNode tc = Json.MAPPER.createObjectNode();
            tc.put("add_bos_token", true);
            tc.put("add_eos_token", false);
            tc.put("bos_token", "<s>");
            tc.put("clean_up_tokenization_spaces", false);
            tc.put("eos_token", "</s>");
            tc.put("legacy", false);
            tc.put("model_max_length", s.positions());
            tc.putNull("pad_token");
            tc.put("tokenizer_class", "LlamaTokenizerFast");
            tc.put("unk_token", "<unk>");
            Json.writePretty(dir.resolve("tokenizer_config.json"), tc);
            ObjectNode sm = Json.MAPPER.createObjectNode();
            sm.put("bos_token", "<s>");
            sm.put("eos_token", "</s>");
            sm.put("unk_token", "<unk>");
            Json.writePretty(dir.resolve("special_tokens_map.json"), sm);
        } else {
            Json.writePretty(dir.resolve(ModelFiles.CONFIG), bertConfig(s, k));
            writeString(dir.resolve("vocab.txt"), bertVocab(s.vocab()));
            ObjectNode tc = Json.MAPPER.createObjectNode();
            tc.put("cls_token", "[CLS]");
            tc.put("do_lower_case", true);
            tc.put("mask_token", "[MASK]");
            tc.put("model_max_length", s.positions());
            tc.put("pad_token", "[PAD]");
            tc.put("sep_token", "[SEP]");
            tc.put("strip_accents", (String) null);
            tc.put("tokenize_chinese_chars", true);
            tc.put("tokenizer_class", "BertTokenizer");
            tc.put("unk_token", "[UNK]");
            Json.writePretty(dir.resolve("tokenizer_config.json"), tc);
            ObjectNode sm = Json.MAPPER.createObjectNode();
            sm.put("cls_token", "[CLS]");
            sm.put("mask_token", "[MASK]");
            sm.put("pad_token", "[PAD]");
            sm.put("sep_token", "[SEP]");
            sm.put("unk_token", "[UNK]");
            Json.writePretty(dir.resolve("special_tokens_map.json"), sm);
        }
    }

    private static ObjectNode llamaConfig(FamilySpec s) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("head_dim", s.hidden() / s.heads());
        c.put("hidden_act", "silu");
        c.put("hidden_size", s.hidden());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediate());
        c.put("max_position_embeddings", s.positions());
        c.put("mlp_bias", false);
        c.put("model_type", "llama");
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("pretraining_tp", 1);
        c.put("rms_norm_eps", 1e-5);
        c.putNull("rope_scaling");
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", false);
        c.put("torch_dtype", s.dtype().torchName());
        c.put("transformers_version", TRANSFORMERS_VERSION);
        c.put("use_cache", true);
        c.put("vocab_size", s.vocab());
        return c;
    }

    private static ObjectNode bertConfig(FamilySpec s, int k) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.putArray("architectures").add(k == 0 ? "BertModel" : "BertForSequenceClassification");
        c.put("attention_probs_dropout_prob", 0.1);
        c.putNull("classifier_dropout");
        if (k > 0) {
            int labels = s.labelsOf(k);
            String task = labels < TASK_BY_LABELS.size() ? TASK_BY_LABELS.get(labels) : "task" + k;
            c.put("finetuning_task", task);
            List<String> names = switch (task) {
                case "sst2" -> List.of("negative", "positive");
                case "mnli" -> List.of("entailment", "neutral", "contradiction");
                default -> java.util.stream.IntStream.range(0, labels).mapToObj(i -> "LABEL_" + i).toList();
            };
            ObjectNode id2label = c.putObject("id2label");
            for (int i = 0; i < labels; i++) id2label.put(Integer.toString(i), names.get(i));
            ObjectNode label2id = c.putObject("label2id");
            for (int i = 0; i < labels; i++) label2id.put(names.get(i), i);
            c.put("num_labels", labels);
            c.put("problem_type", labels == 1 ? "regression" : "single_label_classification");
        }
        c.put("hidden_act", "gelu");
        c.put("hidden_dropout_prob", 0.1);
        c.put("hidden_size", s.hidden());
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", s.intermediate());
        c.put("layer_norm_eps", 1e-12);
        c.put("max_position_embeddings", s.positions());
        c.put("model_type", "bert");
        c.put("num_attention_heads", s.heads());
        c.put("num_hidden_layers", s.layers());
        c.put("pad_token_id", 0);
        c.put("position_embedding_type", "absolute");
        c.put("torch_dtype", s.dtype().torchName());
        c.put("transformers_version", TRANSFORMERS_VERSION);
        c.put("type_vocab_size", 2);
        c.put("use_cache", true);
        c.put("vocab_size", s.vocab());
        return c;
    }

    /**
     * A byte-fallback BPE tokenizer in the {@code tokenizers} JSON format: {@code <unk> <s> </s>}, then byte
     * tokens {@code <0x00>...<0xFF>}, then filler tokens {@code tok<N>}, {@code vocab} entries in all, no merges.
     */
    private static ObjectNode llamaTokenizer(int vocab) {
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("version", "1.0");
        t.putNull("truncation");
        t.putNull("padding");
        ArrayNode added = t.putArray("added_tokens");
        String[] special = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < Math.min(3, vocab); i++) {
            added.addObject().put("id", i).put("content", special[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        t.putNull("normalizer");
        t.putNull("pre_tokenizer");
        t.putNull("post_processor");
        t.putObject("decoder").put("type", "ByteFallback");
        ObjectNode model = t.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        ObjectNode v = model.putObject("vocab");
        for (int i = 0; i < vocab; i++) {
            String tok = i < 3 ? special[i] : i < 3 + 256 ? String.format(java.util.Locale.ROOT, "<0x%02X>", i - 3) : "tok" + i;
            v.put(tok, i);
        }
        model.putArray("merges");
        return t;
    }

    /** A WordPiece vocab.txt: the five BERT specials, then a-z, then filler tokens, {@code vocab} lines. */
    private static String bertVocab(int vocab) {
        StringBuilder b = new StringBuilder();
        String[] special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        for (int i = 0; i < vocab; i++) {
            if (i < special.length) b.append(special[i]);
            else if (i < special.length + 26) b.append((char) ('a' + i - special.length));
            else b.append("##tok").append(i);
            b.append('\n');
        }
        return b.toString();
    }

    private static void writeString(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
