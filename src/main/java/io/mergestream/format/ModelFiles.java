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

    /** Tokenizer files as transformers and sentencepiece write them. */
    public static final List<String> TOKENIZER_FILES = List.of(
            "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
            "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "spiece.model");

    private ModelFiles() {}

    /**
     * Copies {@code config.json} (with {@code torch_dtype} set to {@code dtype}) and
     * {@code generation_config.json} from {@code configSource}, and the tokenizer files from
     * {@code tokenizerSource}. Missing files are skipped; returns the names copied.
     */
    public static List<String> copy(Path configSource, Path tokenizerSource, Path out, DType dtype) {
        return copy(configSource, tokenizerSource, out, dtype, OptionalInt.empty());
    }

    /** As {@link #copy(Path, Path, Path, DType)}, also setting {@code num_hidden_layers} when given (slices). */
    public static List<String> copy(Path configSource, Path tokenizerSource, Path out, DType dtype,
                                    OptionalInt numHiddenLayers) {
        List<String> copied = new java.util.ArrayList<>();
        Path config = configSource.resolve(CONFIG);
        if (Files.isRegularFile(config)) {
            JsonNode node = Json.read(config);
            if (node instanceof ObjectNode obj) {
                obj.put("torch_dtype", dtype.torchName());
                // transformers >= 4.56 writes "dtype" (and reads it first): a stale one would win.
                if (obj.has("dtype")) obj.put("dtype", dtype.torchName());
                numHiddenLayers.ifPresent(n -> obj.put("num_hidden_layers", n));
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
        return copied;
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
