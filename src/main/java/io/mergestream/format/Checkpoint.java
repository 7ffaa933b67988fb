package io.mergestream.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mergestream.format.safetensors.SafetensorsFile;
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
 * index; or a single {@code .safetensors} file. Each shard is mapped once.
 */
public final class Checkpoint implements InputModel {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path location;
    private final List<SafetensorsFile> shards;
    private final Map<String, StoredTensor> tensors;
    private boolean closed;

    private Checkpoint(Path location, List<SafetensorsFile> shards, Map<String, StoredTensor> tensors) {
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
        if (found.isEmpty()) {
            boolean pickle = Files.exists(location.resolve("pytorch_model.bin"))
                    || Files.exists(location.resolve("pytorch_model.bin.index.json"));
            throw new FormatException(location, pickle
                    ? "holds only pytorch_model.bin (pickle); mergestream never loads pickle files, convert it to safetensors first"
                    : "holds no .safetensors file");
        }
        return fromShards(location, found, null);
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
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            Map<String, StoredTensor> tensors = new LinkedHashMap<>();
            for (Path p : paths) {
                SafetensorsFile f = SafetensorsFile.open(p);
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
            shards.forEach(SafetensorsFile::close);
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
    @Override
    public Path location() {
        return location;
    }

    /** The directory holding config.json and tokenizer files. */
    @Override
    public Path directory() {
        return Files.isDirectory(location) ? location : location.toAbsolutePath().getParent();
    }

    public List<SafetensorsFile> shards() {
        return shards;
    }

    /** Tensors in shard order, then header order. */
    @Override
    public Collection<StoredTensor> tensors() {
        return tensors.values();
    }

    @Override
    public StoredTensor tensor(String name) {
        return tensors.get(name);
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public int tensorCount() {
        return tensors.size();
    }

    /** Idempotent: a base shared by a LoRA model and the recipe is closed by both. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        shards.forEach(SafetensorsFile::close);
    }
}
