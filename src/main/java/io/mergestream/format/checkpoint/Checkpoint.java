package io.mergestream.format.checkpoint;

import io.mergestream.format.CheckpointFiles;
import io.mergestream.format.FormatException;
import io.mergestream.format.InputModel;
import io.mergestream.format.Json;
import io.mergestream.format.NameIndex;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.TensorFile;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mergestream.InputFiles;
import io.mergestream.Names;
import io.mergestream.Warnings;
import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.format.torch.TorchZipFile;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
public final class Checkpoint implements InputModel {

    private final Path location;
    private final List<TensorFile> shards;
    private final TensorIndex tensors;
    private boolean closed;

    private Checkpoint(Path location, List<TensorFile> shards, TensorIndex tensors) {
        if (tensors.size() == 0) {
            // Every later step (plan, diff, stats) would do nothing and report success on an empty model.
            throw new FormatException(location, "holds no tensors");
        }
        this.location = location;
        this.shards = shards;
        this.tensors = tensors;
    }

    public static Checkpoint open(Path location) {
        if (!Files.exists(location)) {
            throw new FormatException(location, "no such file or directory");
        }
        if (!Files.isDirectory(location)) {
            // A FIFO or a device (/dev/zero) is refused here, before anything opens it.
            InputFiles.requireRegularFile(location, "safetensors file");
            return fromShards(location, List.of(location), null);
        }
        Path index = location.resolve(CheckpointFiles.INDEX_FILE);
        Path single = location.resolve(CheckpointFiles.SINGLE_FILE);
        if (Files.exists(single)) { // not only a regular one: a FIFO named so is refused by name, not skipped
            // transformers' from_pretrained looks for model.safetensors before the index (modeling_utils,
            // _get_resolved_checkpoint_files: SAFE_WEIGHTS_NAME, then SAFE_WEIGHTS_INDEX_NAME), so a
            // directory with both loads the single file: merge what the model's users load.
            if (Files.exists(index)) {
                Warnings.warn(Names.printable(location) + ": holds both " + CheckpointFiles.SINGLE_FILE + " and " + CheckpointFiles.INDEX_FILE
                        + "; reading " + CheckpointFiles.SINGLE_FILE + " and ignoring the index, as transformers does");
            }
            return fromShards(location, List.of(single), null);
        }
        if (Files.exists(index)) {
            return fromIndex(location, index);
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
        Path single = dir.resolve(CheckpointFiles.BIN_FILE);
        if (Files.exists(single)) return fromShards(dir, List.of(single), null);
        Path index = dir.resolve(CheckpointFiles.BIN_INDEX_FILE);
        if (Files.exists(index)) return fromIndex(dir, index);
        try (Stream<Path> s = Files.list(dir)) {
            if (s.anyMatch(p -> p.getFileName().toString().endsWith(".gguf"))) {
                throw new FormatException(dir, "holds only GGUF files (llama.cpp's format), which mergestream does not "
                        + "read; merge the model's safetensors or PyTorch .bin checkpoint instead");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new FormatException(dir, "holds no .safetensors file and no " + CheckpointFiles.BIN_FILE);
    }

    private static Checkpoint fromIndex(Path dir, Path index) {
        JsonNode root = Json.read(index);
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
            Path shard;
            Path base = dir.toAbsolutePath().normalize();
            try {
                shard = dir.resolve(file).normalize();
                // Compare absolute paths: Path.of(".").normalize() is the empty path, which no shard path starts with.
                if (!base.resolve(file).normalize().startsWith(base)) {
                    throw new FormatException(index, e.getKey(), "weight_map points outside the model directory: "
                            + Names.printable(file));
                }
            } catch (InvalidPathException ex) {
                throw new FormatException(index, e.getKey(), "weight_map names an impossible file name '"
                        + Names.printable(file) + "': " + ex.getReason());
            }
            if (!Files.exists(shard)) {
                throw new FormatException(index, e.getKey(), "shard " + Names.printable(file)
                        + " named by the index does not exist");
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
            for (Path p : paths) shards.add(openFile(p));
            TensorIndex tensors = new TensorIndex(List.copyOf(shards)); // a name stored twice is refused here
            if (check != null) {
                for (Map.Entry<String, String> e : check.weightMap().entrySet()) {
                    StoredTensor t = tensors.get(e.getKey());
                    if (t == null || !t.shard().path().getFileName().toString().equals(Path.of(e.getValue()).getFileName().toString())) {
                        throw new FormatException(check.index(), e.getKey(), "the index maps it to "
                                + Names.printable(e.getValue()) + " but that shard does not hold it");
                    }
                }
                for (StoredTensor t : tensors.inOrder()) {
                    if (!check.weightMap().containsKey(t.name())) {
                        throw new FormatException(check.index(), t.name(), "is stored in "
                                + Names.printable(t.shard().path().getFileName()) + " but missing from the index's weight_map");
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
            // Special files are kept, to be refused by name when opened, rather than silently left out.
            return s.filter(p -> p.getFileName().toString().endsWith(".safetensors") && !Files.isDirectory(p))
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

    public List<TensorFile> shards() {
        return shards;
    }

    /** Tensors in shard order, then header order. */
    @Override
    public Collection<StoredTensor> tensors() {
        return tensors.inOrder();
    }

    @Override
    public StoredTensor tensor(String name) {
        return tensors.get(name);
    }

    @Override
    public boolean contains(String name) {
        return tensors.get(name) != null; // a StoredTensor made and dropped: cheap next to hashing the name
    }

    @Override
    public int tensorCount() {
        return tensors.size();
    }

    /**
     * The tensors by name, in about 10 bytes a tensor (an open-addressing slot holding its place in shard
     * order) over the shards' own lists, where a LinkedHashMap of StoredTensors takes about 100: a merge of
     * three 100,000-tensor models holds 300,000 of them. A {@link StoredTensor} is made on each access.
     */
    private static final class TensorIndex {
        private final List<TensorFile> files;
        private final int[] starts; // starts[s]: place of shard s's first tensor; starts[files.size()]: the count
        private final NameIndex byName;
        private final List<StoredTensor> view;

        TensorIndex(List<TensorFile> files) {
            this.files = files;
            starts = new int[files.size() + 1];
            for (int s = 0; s < files.size(); s++) starts[s + 1] = Math.addExact(starts[s], files.get(s).tensors().size());
            byName = new NameIndex(size(), this::name);
            for (int i = 0; i < size(); i++) {
                int earlier = byName.add(i);
                if (earlier >= 0) {
                    throw new FormatException(files.get(shardOf(i)).path(), name(i), "also stored in "
                            + Names.printable(files.get(shardOf(earlier)).path().getFileName()));
                }
            }
            view = new java.util.AbstractList<>() {
                @Override
                public StoredTensor get(int i) {
                    java.util.Objects.checkIndex(i, size());
                    return at(i);
                }

                @Override
                public int size() {
                    return TensorIndex.this.size();
                }
            };
        }

        private int shardOf(int place) {
            if (starts.length == 2) return 0; // one shard: the common case, asked on every lookup
            int s = java.util.Arrays.binarySearch(starts, place);
            if (s < 0) return -s - 2;
            while (starts[s + 1] == place) s++; // past shards without tensors
            return s;
        }

        private String name(int place) {
            int s = shardOf(place);
            return files.get(s).tensorName(place - starts[s]);
        }

        private StoredTensor at(int place) {
            int s = shardOf(place);
            TensorFile f = files.get(s);
            return new StoredTensor(f.tensors().get(place - starts[s]), f);
        }

        int size() {
            return starts[files.size()];
        }

        StoredTensor get(String name) {
            int place = byName.find(name);
            return place < 0 ? null : at(place);
        }

        List<StoredTensor> inOrder() {
            return view;
        }
    }

    /** Idempotent: a base shared by a LoRA model and the recipe is closed by both. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        shards.forEach(TensorFile::close);
    }

    /**
     * Opens {@code path} by what its first bytes say, whatever its name: a zip (torch.save since 1.6) or a
     * legacy torch pickle goes to the torch reader; a GGUF file is refused by name; any other {@code .bin},
     * {@code .pt} or {@code .pth} file also goes to the torch reader (which says what it is not), unless its
     * bytes are a safetensors header; the rest is read as safetensors.
     */
    private static TensorFile openFile(Path path) {
        if (!Files.exists(path)) throw new FormatException(path, "file not found");
        // before any open: a FIFO would block it, a device has no size to map
        String fileName = path.getFileName() == null ? "" : path.getFileName().toString();
        InputFiles.requireRegularFile(path, fileName.endsWith(".safetensors") ? "safetensors file"
                : fileName.endsWith(".bin") ? "PyTorch checkpoint" : "model file");
        byte[] head = new byte[9];
        int n;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(head);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // a short read: keep reading until the 9 bytes or the end of the file
            }
            n = b.position();
        } catch (NoSuchFileException e) {
            throw new FormatException(path, "file not found");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
        if (n >= 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F') {
            throw new FormatException(path, "is a GGUF file (llama.cpp's format), which mergestream does not read; "
                    + "merge the model's safetensors or PyTorch .bin checkpoint instead");
        }
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean torchName = name.endsWith(".bin") || name.endsWith(".pt") || name.endsWith(".pth");
        // A zip starts with a local header "PK\3\4"; a safetensors file whose u64 header length happened to
        // spell those bytes would still have its JSON '{' at byte 8, where a zip has its compression method.
        boolean json = n == 9 && head[8] == '{';
        boolean zip = n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4 && !json;
        // a safetensors file named .bin (it happens) is read as what it is
        if (zip || (torchName && !json) || TorchZipFile.isLegacyPickle(head, n)) {
            return TorchZipFile.open(path);
        }
        return SafetensorsFile.open(path);
    }
}
