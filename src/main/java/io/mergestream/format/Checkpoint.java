package io.mergestream.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A model checkpoint in the Hugging Face layout, opened read-only: a directory with
 * {@code model.safetensors}, or shards listed by {@code model.safetensors.index.json}, or shards without an
 * index; or a single {@code .safetensors} file. A directory without safetensors may hold PyTorch's
 * {@code pytorch_model.bin} or shards listed by {@code pytorch_model.bin.index.json} (torch.save's zip, read
 * by {@link io.mergestream.format.torch.TorchZipFile}); with both, the safetensors are used, as transformers
 * does. Each shard is mapped once.
 */
public final class Checkpoint implements AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String BIN_FILE = "pytorch_model.bin";
    public static final String BIN_INDEX_FILE = "pytorch_model.bin.index.json";

    private final Path location;
    private final List<TensorFile> shards;
    private final Map<String, StoredTensor> tensors;

    private Checkpoint(Path location, List<TensorFile> shards, Map<String, StoredTensor> tensors) {
        this.location = location;
        this.shards = shards;
        this.tensors = tensors;
    }

    public static Checkpoint open(Path location) {
        if (!Files.exists(location)) {
            throw new FormatException(location, "no such file or directory");
        }
        if (Files.isRegularFile(location)) {
            return fromShards(location, List.of(location), null);
        }
        Path index = location.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return fromIndex(location, index);
        }
        Path single = location.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return fromShards(location, List.of(single), null);
        }
        List<Path> found = listSafetensors(location);
        if (!found.isEmpty()) return fromShards(location, found, null);
        return openBin(location);
    }

    /**
     * No safetensors: PyTorch's .bin layout, single or sharded with an index, in transformers' order
     * (modeling_utils: WEIGHTS_NAME, then WEIGHTS_INDEX_NAME). Files.exists, not isRegularFile: a FIFO so named
     * is refused by name when opened, not skipped.
     */
    private static Checkpoint openBin(Path dir) {
        Path single = dir.resolve(BIN_FILE);
        if (Files.exists(single)) return fromShards(dir, List.of(single), null);
        Path index = dir.resolve(BIN_INDEX_FILE);
        if (Files.exists(index)) return fromIndex(dir, index);
        try (Stream<Path> s = Files.list(dir)) {
            if (s.anyMatch(p -> p.getFileName().toString().endsWith(".gguf"))) {
                throw new FormatException(dir, "holds only GGUF files (llama.cpp's format), which mergestream does not "
                        + "read; merge the model's safetensors or PyTorch .bin checkpoint instead");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new FormatException(dir, "holds no .safetensors file and no " + BIN_FILE);
    }

    private static Checkpoint fromIndex(Path dir, Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new FormatException(index, "is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        JsonNode weightMap = root == null ? null : root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new FormatException(index, "has no weight_map object");
        }
        Map<String, String> expected = new LinkedHashMap<>();
        TreeMap<String, Path> shardFiles = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new FormatException(index, e.getKey(), "weight_map value is not a file name");
            }
            String file = e.getValue().textValue();
            Path shard = dir.resolve(file).normalize();
            // Compare absolute paths: Path.of(".").normalize() is the empty path, which no shard path starts with.
            Path base = dir.toAbsolutePath().normalize();
            if (!base.resolve(file).normalize().startsWith(base)) {
                throw new FormatException(index, e.getKey(), "weight_map points outside the model directory: " + file);
            }
            if (!Files.isRegularFile(shard)) {
                throw new FormatException(index, e.getKey(), "shard " + file + " named by the index does not exist");
            }
            expected.put(e.getKey(), file);
            shardFiles.putIfAbsent(file, shard);
        }
        return fromShards(dir, new ArrayList<>(shardFiles.values()), new IndexCheck(index, expected));
    }

    private record IndexCheck(Path index, Map<String, String> weightMap) {}

    private static Checkpoint fromShards(Path location, List<Path> paths, IndexCheck check) {
        List<TensorFile> shards = new ArrayList<>();
        try {
            Map<String, StoredTensor> tensors = new LinkedHashMap<>();
            for (Path p : paths) {
                TensorFile f = TensorFile.open(p);
                shards.add(f);
                for (TensorInfo t : f.tensors()) {
                    StoredTensor prev = tensors.put(t.name(), new StoredTensor(t, f));
                    if (prev != null) {
                        throw new FormatException(p, t.name(), "also stored in " + prev.shard().path().getFileName());
                    }
                }
            }
            if (check != null) {
                for (Map.Entry<String, String> e : check.weightMap().entrySet()) {
                    StoredTensor t = tensors.get(e.getKey());
                    if (t == null || !t.shard().path().getFileName().toString().equals(Path.of(e.getValue()).getFileName().toString())) {
                        throw new FormatException(check.index(), e.getKey(), "the index maps it to " + e.getValue()
                                + " but that shard does not hold it");
                    }
                }
                for (String name : tensors.keySet()) {
                    if (!check.weightMap().containsKey(name)) {
                        throw new FormatException(check.index(), name, "is stored in "
                                + tensors.get(name).shard().path().getFileName() + " but missing from the index's weight_map");
                    }
                }
            }
            return new Checkpoint(location, List.copyOf(shards), tensors);
        } catch (RuntimeException e) {
            shards.forEach(TensorFile::close);
            throw e;
        }
    }

    private static List<Path> listSafetensors(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                    .sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The directory (or the single file) this checkpoint was opened from. */
    public Path location() {
        return location;
    }

    /** The directory holding config.json and tokenizer files. */
    public Path directory() {
        return Files.isDirectory(location) ? location : location.toAbsolutePath().getParent();
    }

    public List<TensorFile> shards() {
        return shards;
    }

    /** Tensors in shard order, then header order. */
    public Collection<StoredTensor> tensors() {
        return tensors.values();
    }

    public StoredTensor tensor(String name) {
        return tensors.get(name);
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public int tensorCount() {
        return tensors.size();
    }

    @Override
    public void close() {
        shards.forEach(TensorFile::close);
    }
}
