package io.mergestream.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.OptionalInt;

/** The non-tensor files of a Hugging Face model directory that travel with the weights. */
public final class ModelFiles {

    public static final String CONFIG = "config.json";

    /**
     * Tokenizer files as transformers and sentencepiece write them, with the chat template files (transformers'
     * {@code chat_template.jinja}, a processor's {@code chat_template.json}): a merged instruct model keeps the
     * template its tokenizer source had.
     */
    public static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
            "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "spiece.model",
            ChatTemplates.JINJA_FILE, ChatTemplates.PROCESSOR_FILE);

    /** transformers' folder of named chat templates ({@code NAME.jinja}) beside the default one. */
    public static final String ADDITIONAL_CHAT_TEMPLATES = "additional_chat_templates";

    /**
     * Files that travel with the config source (the base) unchanged: its licence (the merge is a derivative of
     * it) and the image preprocessor's settings of a vision model (mergekit's "tagalong" files), which merging
     * the weights does not change.
     */
    public static final List<String> BASE_FILES = List.of(
            "LICENSE", "LICENSE.txt", "LICENSE.md", "preprocessor_config.json");

    private ModelFiles() {}

    /**
     * Copies {@code config.json} (with {@code torch_dtype} set to {@code dtype}, every other value as written),
     * {@code generation_config.json} and the {@link #BASE_FILES} from {@code configSource}, and the tokenizer files
     * (chat templates included) from {@code tokenizerSource}. Missing files are skipped; returns the names copied.
     */
    public static List<String> copy(Path configSource, Path tokenizerSource, Path out, DType dtype) {
        return copy(configSource, tokenizerSource, out, dtype, OptionalInt.empty());
    }

    /** As {@link #copy(Path, Path, Path, DType)}, also setting {@code num_hidden_layers} when given (slices). */
    public static List<String> copy(Path configSource, Path tokenizerSource, Path out, DType dtype,
                                    OptionalInt numHiddenLayers) {
        return copy(configSource, tokenizerSource, out, dtype, numHiddenLayers, OptionalInt.empty());
    }

    /**
     * As {@link #copy(Path, Path, Path, DType, OptionalInt)}, also setting {@code vocab_size} to the output's
     * vocabulary rows when given and the config has one: transformers refuses a checkpoint whose embedding
     * rows differ from it (e.g. after vocabularies were truncated to their common rows).
     */
    public static List<String> copy(Path configSource, Path tokenizerSource, Path out, DType dtype,
                                    OptionalInt numHiddenLayers, OptionalInt vocabSize) {
        List<String> copied = new java.util.ArrayList<>();
        Path config = configSource.resolve(CONFIG);
        if (Files.isRegularFile(config)) {
            JsonNode node = Json.read(config);
            if (node instanceof ObjectNode obj) {
                obj.put("torch_dtype", dtype.torchName());
                // transformers >= 4.56 writes "dtype" (and reads it first): a stale one would win.
                if (obj.has("dtype")) obj.put("dtype", dtype.torchName());
                numHiddenLayers.ifPresent(n -> obj.put("num_hidden_layers", n));
                if (obj.has("vocab_size")) vocabSize.ifPresent(n -> obj.put("vocab_size", n));
                // an FP8 input's quantization_config describes storage the merge has decoded: the output is plain floats
                if (dtype.isMergeable()) obj.remove("quantization_config");
                Json.writePretty(out.resolve(CONFIG), obj);
                copied.add(CONFIG);
            } else {
                throw new FormatException(config, "is not a JSON object");
            }
        }
        copyIfPresent(configSource, out, "generation_config.json", copied);
        for (String name : TOKENIZER_FILES) copyIfPresent(tokenizerSource, out, name, copied);
        copyTemplateFolder(tokenizerSource, out, copied);
        for (String name : BASE_FILES) copyIfPresent(configSource, out, name, copied);
        return copied;
    }

    /** The {@code .jinja} files of {@code additional_chat_templates/}, if the tokenizer source has that folder. */
    private static void copyTemplateFolder(Path from, Path to, List<String> copied) {
        Path dir = from.resolve(ADDITIONAL_CHAT_TEMPLATES);
        if (!Files.isDirectory(dir)) return;
        List<String> names = new java.util.ArrayList<>();
        try (var files = Files.newDirectoryStream(dir, "*.jinja")) {
            for (Path f : files) if (Files.isRegularFile(f)) names.add(f.getFileName().toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        if (names.isEmpty()) return;
        java.util.Collections.sort(names);
        try {
            Files.createDirectories(to.resolve(ADDITIONAL_CHAT_TEMPLATES));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + to.resolve(ADDITIONAL_CHAT_TEMPLATES) + ": " + e.getMessage(), e);
        }
        for (String n : names) copyIfPresent(from, to, ADDITIONAL_CHAT_TEMPLATES + "/" + n, copied);
    }

    private static void copyIfPresent(Path from, Path to, String name, List<String> copied) {
        Path src = from.resolve(name);
        if (!Files.isRegularFile(src)) return;
        try {
            Files.copy(src, to.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            copied.add(name);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + src + ": " + e.getMessage(), e);
        }
    }
}
