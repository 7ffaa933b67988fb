package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {

    @TempDir
    Path tmp;

    @Test
    void rewritesTorchDtypeKeepsOtherKeysAndCopiesTokenizerFiles() throws IOException {
        Path base = Files.createDirectory(tmp.resolve("base"));
        Path tok = Files.createDirectory(tmp.resolve("tok"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(base.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "torch_dtype": "float32",
                 "rope_scaling": {"type": "linear", "factor": 2.0}, "vocab_size": 32000}
                """);
        Files.writeString(base.resolve("generation_config.json"), "{\"do_sample\": true}\n");
        Files.writeString(base.resolve("tokenizer.json"), "from base: must not be copied");
        Files.writeString(base.resolve("README.md"), "model card: not copied");
        byte[] tokenizerJson = "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}\n".getBytes();
        byte[] sentencepiece = {0, 1, 2, (byte) 0xff, 10};
        Files.write(tok.resolve("tokenizer.json"), tokenizerJson);
        Files.writeString(tok.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        Files.write(tok.resolve("tokenizer.model"), sentencepiece);
        Files.writeString(tok.resolve("special_tokens_map.json"), "{}");
        Files.writeString(tok.resolve("config.json"), "{\"not\": \"used\"}");

        List<String> copied = ModelFiles.copy(base, tok, out, DType.BF16);

        assertEquals(List.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "tokenizer.model", "special_tokens_map.json"), copied);
        JsonNode cfg = Json.read(out.resolve("config.json"));
        assertEquals("bfloat16", cfg.get("torch_dtype").asText());
        assertEquals(8, cfg.get("hidden_size").asInt());
        assertEquals(32000, cfg.get("vocab_size").asInt());
        assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
        assertEquals(2.0, cfg.get("rope_scaling").get("factor").asDouble());
        List<String> keys = new ArrayList<>();
        cfg.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("architectures", "hidden_size", "torch_dtype", "rope_scaling", "vocab_size"), keys,
                "keys keep their order");
        assertTrue(Files.readString(out.resolve("config.json")).endsWith("}\n"));
        assertArrayEquals(tokenizerJson, Files.readAllBytes(out.resolve("tokenizer.json")));
        assertArrayEquals(sentencepiece, Files.readAllBytes(out.resolve("tokenizer.model")));
        assertEquals("{\"do_sample\": true}\n", Files.readString(out.resolve("generation_config.json")));
        assertFalse(Files.exists(out.resolve("README.md")));
        assertFalse(Files.exists(out.resolve("vocab.json")));
    }

    @Test
    void addsTorchDtypeWhenAbsentAndRewritesTheNewerDtypeKey() throws IOException {
        Path base = Files.createDirectory(tmp.resolve("base"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        // transformers >= 4.56 writes "dtype" instead of "torch_dtype".
        Files.writeString(base.resolve("config.json"), "{\"model_type\": \"qwen2\", \"dtype\": \"float32\"}");
        assertEquals(List.of("config.json"), ModelFiles.copy(base, base, out, DType.F16));
        JsonNode cfg = Json.read(out.resolve("config.json"));
        assertEquals("float16", cfg.get("torch_dtype").asText());
        assertEquals("float16", cfg.get("dtype").asText());
        assertEquals("qwen2", cfg.get("model_type").asText());
    }

    @Test
    void missingFilesAreSkippedAndANonObjectConfigIsRejected() throws IOException {
        Path empty = Files.createDirectory(tmp.resolve("empty"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        assertEquals(List.of(), ModelFiles.copy(empty, empty, out, DType.BF16));
        Files.writeString(empty.resolve("config.json"), "[1, 2]");
        FormatException e = assertThrows(FormatException.class, () -> ModelFiles.copy(empty, empty, out, DType.BF16));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("not a JSON object"), e.getMessage());
        Files.writeString(empty.resolve("config.json"), "{\"a\": ");
        e = assertThrows(FormatException.class, () -> ModelFiles.copy(empty, empty, out, DType.BF16));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void configNumbersAreWrittenAsTheyWereRead() throws IOException {
        Path base = Files.createDirectory(tmp.resolve("base"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        // numbers as transformers writes them (Python repr), which Java's Double.toString would change
        Files.writeString(base.resolve("config.json"), """
                {"rms_norm_eps": 1e-05, "initializer_range": 0.02, "rope_theta": 10000.0, "factor": 1.0,
                 "tiny": 1E-7, "huge": 1e+16, "neg": -0.0, "long_pi": 3.14159265358979323846264338327950288,
                 "max_position_embeddings": 32768, "big": 18446744073709551615, "odd": 9007199254740993,
                 "list": [0.1, 2.50, -3e-3], "nested": {"beta": 0.999}, "torch_dtype": "float32"}
                """);
        ModelFiles.copy(base, base, out, DType.BF16);
        assertEquals("""
                {
                  "rms_norm_eps": 1e-05,
                  "initializer_range": 0.02,
                  "rope_theta": 10000.0,
                  "factor": 1.0,
                  "tiny": 1E-7,
                  "huge": 1e+16,
                  "neg": -0.0,
                  "long_pi": 3.14159265358979323846264338327950288,
                  "max_position_embeddings": 32768,
                  "big": 18446744073709551615,
                  "odd": 9007199254740993,
                  "list": [
                    0.1,
                    2.50,
                    -3e-3
                  ],
                  "nested": {
                    "beta": 0.999
                  },
                  "torch_dtype": "bfloat16"
                }
                """, Files.readString(out.resolve("config.json")));
        // and they are still numbers to every reader of the tree
        JsonNode cfg = Json.read(out.resolve("config.json"));
        assertTrue(cfg.get("rms_norm_eps").isNumber() && cfg.get("rms_norm_eps").isFloatingPointNumber());
        assertEquals(1e-05, cfg.get("rms_norm_eps").asDouble());
        assertEquals(10000, cfg.get("rope_theta").asInt());
        assertEquals(32768, cfg.get("max_position_embeddings").intValue());
        assertEquals(new java.math.BigInteger("18446744073709551615"), cfg.get("big").bigIntegerValue());
    }

    @Test
    void chatTemplatesLicenceAndPreprocessorTravelWithTheModel() throws IOException {
        Path base = Files.createDirectory(tmp.resolve("base"));
        Path tok = Files.createDirectory(tmp.resolve("tok"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(base.resolve("config.json"), "{}");
        Files.writeString(base.resolve("LICENSE"), "Apache License 2.0 ...");
        Files.writeString(base.resolve("preprocessor_config.json"), "{\"image_mean\": [0.48145466]}\n");
        Files.writeString(tok.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ messages }}\"}");
        String jinja = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}\n";
        Files.writeString(tok.resolve("chat_template.jinja"), jinja);
        Files.writeString(tok.resolve("chat_template.json"), "{\"chat_template\": \"{{ x }}\"}");
        Files.writeString(Files.createDirectory(tok.resolve("additional_chat_templates")).resolve("tool_use.jinja"), "{{ t }}");
        Files.writeString(tok.resolve("LICENSE"), "the tokenizer source's: not this one");

        List<String> copied = ModelFiles.copy(base, tok, out, DType.BF16);

        assertEquals(List.of("config.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json",
                "additional_chat_templates/tool_use.jinja", "LICENSE", "preprocessor_config.json"), copied);
        assertEquals(jinja, Files.readString(out.resolve("chat_template.jinja")));
        assertEquals("{{ t }}", Files.readString(out.resolve("additional_chat_templates/tool_use.jinja")));
        assertEquals("Apache License 2.0 ...", Files.readString(out.resolve("LICENSE")), "the base's licence");
        assertEquals("{\"image_mean\": [0.48145466]}\n", Files.readString(out.resolve("preprocessor_config.json")));
    }

    /** An empty config.json is refused as json.loads refuses "" ("Expecting value"), naming the file, not read as {}. */
    @Test
    void anEmptyJsonFileIsRefusedNamingIt() throws IOException {
        Path f = Files.writeString(tmp.resolve("config.json"), "");
        FormatException e = assertThrows(FormatException.class, () -> Json.read(f));
        assertTrue(e.getMessage().startsWith(f + ": is not valid JSON: the file is empty"), e.getMessage());
        Path ws = Files.writeString(tmp.resolve("ws.json"), " \n\t\n");
        assertThrows(FormatException.class, () -> Json.read(ws));
    }
}
