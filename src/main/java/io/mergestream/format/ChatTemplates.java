package io.mergestream.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.Warnings;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Chat templates: where a model directory keeps one, the ones a recipe can name, and writing one into an output.
 *
 * <p>transformers keeps a tokenizer's template in {@code chat_template.jinja} (newer versions) or under
 * {@code chat_template} in {@code tokenizer_config.json} (a string, or a list of named templates whose
 * {@code default} is the one used); a processor's is in {@code chat_template.json}. The jinja file wins when
 * both are present, as in transformers.
 *
 * <p>A recipe's {@code chat_template:} (mergekit's key) is {@code auto} (the template most of the input models
 * carry, ties to the first in recipe order, each stripped of surrounding whitespace, as mergekit picks its
 * plurality), a built-in name ({@link #BUILT_IN}: mergekit's names; the templates are mergestream's own renderings
 * of those public formats, see the .jinja resources) or a literal Jinja template (mergekit's test: at least 20
 * characters with a {@code {} in them).
 *
 * <p>The built-in renderings follow each format's public description, so they differ from mergekit's files in
 * details mergekit chose: {@code alpaca} opens with Stanford Alpaca's preamble when there is no system message
 * and ends each response with {@code eos_token} (as Alpaca was trained); {@code mistral} writes
 * {@code [INST] } without a leading space; {@code alpaca} and {@code mistral} reject roles they have no place for
 * instead of dropping those messages.
 */
public final class ChatTemplates {

    public static final String AUTO = "auto";
    /** The names a recipe can give (mergekit's built-in templates). */
    public static final List<String> BUILT_IN = List.of("alpaca", "chatml", "exaone", "llama3", "mistral");

    public static final String JINJA_FILE = "chat_template.jinja";
    public static final String PROCESSOR_FILE = "chat_template.json";
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    private ChatTemplates() {}

    /**
     * Why {@code value} is not a valid {@code chat_template} setting, or empty when it is: {@code auto}, a built-in
     * name, or something that can only be a Jinja template.
     */
    public static Optional<String> problem(String value) {
        if (value.equals(AUTO) || BUILT_IN.contains(value) || isLiteral(value)) return Optional.empty();
        return Optional.of("'" + value + "' is neither auto, a built-in template (" + String.join(", ", BUILT_IN)
                + ") nor a Jinja template");
    }

    private static boolean isLiteral(String value) {
        return value.length() >= 20 && value.contains("{");
    }

    /** The text of built-in template {@code name}. */
    public static String builtIn(String name) {
        if (!BUILT_IN.contains(name)) throw new IllegalArgumentException("no built-in chat template " + name);
        try (InputStream in = ChatTemplates.class.getResourceAsStream("chat_templates/" + name + ".jinja")) {
            if (in == null) throw new IllegalStateException("chat template resource " + name + " is missing from the build");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The template the tokenizer in {@code dir} uses, or empty when it has none. */
    public static Optional<String> of(Path dir) {
        Path jinja = dir.resolve(JINJA_FILE);
        if (Files.isRegularFile(jinja)) {
            try {
                return Optional.of(Files.readString(jinja, StandardCharsets.UTF_8)).filter(t -> !t.isBlank());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + jinja + ": " + e.getMessage(), e);
            }
        }
        for (String file : List.of(TOKENIZER_CONFIG, PROCESSOR_FILE)) {
            Path p = dir.resolve(file);
            if (!Files.isRegularFile(p)) continue;
            Optional<String> t = fromNode(Json.read(p).path("chat_template"));
            if (t.isPresent()) return t;
        }
        return Optional.empty();
    }

    /** A {@code chat_template} value: a string, or the {@code default} of a list of {name, template}. */
    private static Optional<String> fromNode(JsonNode n) {
        if (n.isTextual()) return Optional.of(n.asText()).filter(t -> !t.isBlank());
        if (n.isArray()) {
            for (JsonNode e : n) {
                if (e.path("name").asText().equals("default") && e.path("template").isTextual()) {
                    return Optional.of(e.get("template").asText());
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The template a valid setting asks for: {@code auto} looks at {@code models} (recipe order) and is empty when
     * none carries a template.
     */
    public static Optional<String> resolve(String setting, List<Path> models) {
        if (setting.equals(AUTO)) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            // each model once (a base listed among the models too is one vote, as in mergekit's set of models)
            for (Path m : new java.util.LinkedHashSet<>(models.stream().map(p -> p.toAbsolutePath().normalize()).toList())) {
                of(m).map(String::strip).ifPresent(t -> counts.merge(t, 1, Integer::sum));
            }
            String best = null;
            for (Map.Entry<String, Integer> e : counts.entrySet()) {
                if (best == null || e.getValue() > counts.get(best)) best = e.getKey();
            }
            return Optional.ofNullable(best);
        }
        return Optional.of(BUILT_IN.contains(setting) ? builtIn(setting) : setting);
    }

    /**
     * Applies a recipe's {@code chat_template} setting (if any) to the output directory {@code out}, whose
     * tokenizer files are already written: see {@link #write}.
     */
    public static void apply(Path out, Optional<String> setting, List<Path> models) {
        if (setting.isEmpty()) return;
        Optional<String> template = resolve(setting.get(), models);
        if (template.isEmpty()) {
            Warnings.warn("chat_template: auto found no chat template in the input models; the output keeps the"
                    + " tokenizer source's files as they are");
            return;
        }
        write(out, template.get());
    }

    /**
     * Makes {@code template} the output's chat template wherever transformers looks: {@code chat_template.jinja}
     * (written), and the {@code chat_template} of {@code tokenizer_config.json} and {@code chat_template.json}
     * when the output has them (so no stale copy of the source's template is left to win in an older or newer
     * reader). An output without tokenizer files gets none (mergekit: "no tokenizer found").
     */
    public static void write(Path out, String template) {
        boolean tokenizer = Files.isRegularFile(out.resolve(TOKENIZER_CONFIG))
                || Files.isRegularFile(out.resolve("tokenizer.json")) || Files.isRegularFile(out.resolve("tokenizer.model"));
        if (!tokenizer) {
            Warnings.warn("chat_template: the output has no tokenizer files (tokenizer_config.json, tokenizer.json),"
                    + " so the chat template is not saved");
            return;
        }
        try {
            Files.writeString(out.resolve(JINJA_FILE), template, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out.resolve(JINJA_FILE) + ": " + e.getMessage(), e);
        }
        for (String file : List.of(TOKENIZER_CONFIG, PROCESSOR_FILE)) {
            Path p = out.resolve(file);
            if (!Files.isRegularFile(p) || !(Json.read(p) instanceof ObjectNode cfg)) continue;
            if (file.equals(PROCESSOR_FILE) && !cfg.has("chat_template")) continue;
            JsonNode old = cfg.path("chat_template");
            if (old.isArray()) {
                // named templates (default, tool_use, ...): only the default one is the recipe's to replace
                ArrayNode list = (ArrayNode) old;
                boolean replaced = false;
                for (JsonNode e : list) {
                    if (e instanceof ObjectNode o && o.path("name").asText().equals("default")) {
                        o.put("template", template);
                        replaced = true;
                    }
                }
                if (!replaced) list.insertObject(0).put("name", "default").put("template", template);
            } else {
                cfg.put("chat_template", template);
            }
            Json.writePretty(p, cfg);
        }
    }
}
