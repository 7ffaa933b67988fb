package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.Warnings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChatTemplatesTest {

    static final String CHATML_LIKE = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
    static final String OTHER = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}";

    @TempDir
    Path tmp;

    private Path dir(String name, Map<String, String> files) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(name));
        for (var f : files.entrySet()) Files.writeString(d.resolve(f.getKey()), f.getValue());
        return d;
    }

    private static String json(String template) {
        return Json.MAPPER.createObjectNode().put("chat_template", template).toString();
    }

    @Test
    void aModelsTemplateIsItsJinjaFileElseItsTokenizerConfig() throws IOException {
        Path both = dir("both", Map.of("chat_template.jinja", OTHER, "tokenizer_config.json", json(CHATML_LIKE)));
        assertEquals(Optional.of(OTHER), ChatTemplates.of(both), "the jinja file wins, as in transformers");
        assertEquals(Optional.of(CHATML_LIKE), ChatTemplates.of(dir("config", Map.of("tokenizer_config.json", json(CHATML_LIKE)))));
        String named = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"}]}";
        assertEquals(Optional.of("D"), ChatTemplates.of(dir("named", Map.of("tokenizer_config.json", named))));
        assertEquals(Optional.of("P"), ChatTemplates.of(dir("processor", Map.of("chat_template.json", json("P")))));
        assertEquals(Optional.empty(), ChatTemplates.of(dir("none", Map.of("tokenizer_config.json", "{\"eos_token\": \"</s>\"}"))));
    }

    @Test
    void autoTakesThePluralityTemplateOfTheInputs() throws IOException {
        Path a = dir("a", Map.of("tokenizer_config.json", json(OTHER)));
        Path b = dir("b", Map.of("chat_template.jinja", "\n" + CHATML_LIKE + "  \n")); // stripped before counting
        Path c = dir("c", Map.of("tokenizer_config.json", json(CHATML_LIKE)));
        Path none = dir("plain", Map.of());
        assertEquals(Optional.of(CHATML_LIKE), ChatTemplates.resolve("auto", List.of(a, b, none, c)));
        assertEquals(Optional.of(OTHER), ChatTemplates.resolve("auto", List.of(a, b)), "a tie goes to the first");
        assertEquals(Optional.of(OTHER), ChatTemplates.resolve("auto", List.of(a, b, a)), "each model counts once");
        assertEquals(Optional.empty(), ChatTemplates.resolve("auto", List.of(none)));
        assertEquals(Optional.of(OTHER), ChatTemplates.resolve(OTHER, List.of(c)), "a literal is itself");
    }

    @Test
    void builtInNamesAreMergekitsAndRenderTheirFormats() {
        assertEquals(List.of("alpaca", "chatml", "exaone", "llama3", "mistral"), ChatTemplates.BUILT_IN);
        Map<String, List<String>> markers = Map.of(
                "chatml", List.of("'<|im_start|>' + message['role'] + '\\n'", "'<|im_end|>\\n'", "'<|im_start|>assistant\\n'"),
                "llama3", List.of("bos_token", "'<|start_header_id|>'", "'<|end_header_id|>\\n\\n'", "'<|eot_id|>'"),
                "mistral", List.of("bos_token", "'[INST] '", "' [/INST]'", "eos_token"),
                "alpaca", List.of("### Instruction:\\n", "### Response:\\n"),
                "exaone", List.of("'[|system|][|endofturn|]\\n'", "'[|' + message['role'] + '|]'", "'[|assistant|]'"));
        for (String name : ChatTemplates.BUILT_IN) {
            String t = ChatTemplates.builtIn(name);
            assertEquals(Optional.empty(), ChatTemplates.problem(name), name);
            for (String m : markers.get(name)) assertTrue(t.contains(m), name + " lacks " + m);
            assertEquals(t, ChatTemplates.resolve(name, List.of()).orElseThrow());
            assertTrue(t.contains("add_generation_prompt") || name.equals("mistral"), name);
        }
        assertEquals(Optional.empty(), ChatTemplates.problem("auto"));
        assertEquals(Optional.empty(), ChatTemplates.problem("{{ messages[0]['content'] }}"));
        assertTrue(ChatTemplates.problem("vicuna").orElseThrow().contains("alpaca, chatml, exaone, llama3, mistral"));
        assertTrue(ChatTemplates.problem("{{x}}").isPresent(), "too short to be a template (mergekit's rule)");
    }

    @Test
    void writingATemplateRoundTripsThroughEveryFileThatCarriesOne() throws IOException {
        Path out = dir("out", Map.of(
                "tokenizer_config.json", "{\"eos_token\": \"</s>\", \"chat_template\": \"old\", \"model_max_length\": 1e+30}",
                "chat_template.json", json("old"), "chat_template.jinja", "old"));
        ChatTemplates.write(out, CHATML_LIKE);
        assertEquals(CHATML_LIKE, Files.readString(out.resolve("chat_template.jinja")));
        JsonNode cfg = Json.read(out.resolve("tokenizer_config.json"));
        assertEquals(CHATML_LIKE, cfg.get("chat_template").asText());
        assertEquals("</s>", cfg.get("eos_token").asText());
        assertTrue(Files.readString(out.resolve("tokenizer_config.json")).contains("\"model_max_length\": 1e+30"));
        assertEquals(CHATML_LIKE, Json.read(out.resolve("chat_template.json")).get("chat_template").asText());
        assertEquals(Optional.of(CHATML_LIKE), ChatTemplates.of(out), "read back as the model's template");

        Path named = dir("named", Map.of("tokenizer_config.json",
                "{\"chat_template\": [{\"name\": \"default\", \"template\": \"D\"}, {\"name\": \"tool_use\", \"template\": \"T\"}]}"));
        ChatTemplates.write(named, OTHER);
        JsonNode list = Json.read(named.resolve("tokenizer_config.json")).get("chat_template");
        assertEquals(OTHER, list.get(0).get("template").asText());
        assertEquals("T", list.get(1).get("template").asText(), "other named templates are kept");
    }

    @Test
    void anOutputWithoutATokenizerGetsNoTemplateAndAWarning() throws IOException {
        Path out = dir("bare", Map.of("config.json", "{}"));
        List<String> warnings = new ArrayList<>();
        Warnings.Listener previous = Warnings.set(warnings::add);
        try {
            ChatTemplates.apply(out, Optional.of("chatml"), List.of());
            ChatTemplates.apply(out, Optional.of("auto"), List.of(out));
        } finally {
            Warnings.set(previous);
        }
        assertFalse(Files.exists(out.resolve("chat_template.jinja")));
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).startsWith("chat_template: the output has no tokenizer files"), warnings.get(0));
        assertTrue(warnings.get(1).startsWith("chat_template: auto found no chat template"), warnings.get(1));
    }
}
