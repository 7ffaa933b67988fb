package io.mergestream.format.safetensors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.format.OutputLayout;
import io.mergestream.tensor.TensorInfo;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes the shards of an {@link OutputLayout}. Every header is written first (the layout fixes all names,
 * shapes and offsets), then each shard's data section is mapped read-write, so that kernels write their
 * chunks straight into the file, from any thread, in any order: no shard is ever assembled in memory.
 * {@link #finish()} flushes the mappings, syncs the files and writes {@code model.safetensors.index.json}
 * when there is more than one shard.
 */
public final class ShardedWriter implements AutoCloseable {

    private static final Map<String, String> METADATA = Map.of("format", "pt");

    private final Path directory;
    private final OutputLayout layout;
    private final List<Arena> arenas = new ArrayList<>();
    private final List<MemorySegment> dataSections = new ArrayList<>();
    private final List<FileChannel> channels = new ArrayList<>();
    private final Map<String, TensorInfo> tensors = new HashMap<>();
    private boolean closed;

    private ShardedWriter(Path directory, OutputLayout layout) {
        this.directory = directory;
        this.layout = layout;
    }

    public static ShardedWriter create(Path directory, OutputLayout layout) {
        ShardedWriter w = new ShardedWriter(directory, layout);
        try {
            for (OutputLayout.Shard shard : layout.shards()) w.openShard(shard);
            return w;
        } catch (IOException e) {
            w.close();
            throw new UncheckedIOException("cannot create output shards in " + directory + ": " + e.getMessage(), e);
        }
    }

    private void openShard(OutputLayout.Shard shard) throws IOException {
        FileChannel ch = FileChannel.open(directory.resolve(shard.fileName()), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
        channels.add(ch);
        // The header streams to the file after its 8-byte length, which is written last, once known.
        ch.position(8);
        BufferedOutputStream headerOut = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
        long headerLength = HeaderWriter.write(shard.tensors(), METADATA, headerOut);
        headerOut.flush(); // not close(): that would close the channel
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerLength);
        for (long at = 0; prefix.hasRemaining(); ) at += ch.write(prefix, at);
        long dataStart = 8L + headerLength;
        Arena arena = Arena.ofShared();
        arenas.add(arena);
        MemorySegment data = shard.dataBytes() == 0 ? MemorySegment.NULL
                : ch.map(FileChannel.MapMode.READ_WRITE, dataStart, shard.dataBytes(), arena);
        dataSections.add(data);
        for (TensorInfo t : shard.tensors()) tensors.put(t.name(), t);
    }

    public OutputLayout layout() {
        return layout;
    }

    /** The output tensor's bytes in its shard's mapping, to be filled by the caller. */
    public MemorySegment segment(String tensor) {
        TensorInfo t = tensors.get(tensor);
        if (t == null) throw new IllegalArgumentException("tensor not in the output layout: " + tensor);
        if (t.byteSize() == 0) return MemorySegment.NULL.reinterpret(0);
        return dataSections.get(layout.shardIndexOf(tensor)).asSlice(t.begin(), t.byteSize());
    }

    public TensorInfo info(String tensor) {
        return tensors.get(tensor);
    }

    /** Flushes every shard to disk and writes the index; the files are complete when this returns. */
    public void finish() {
        try {
            for (MemorySegment data : dataSections) {
                if (data.byteSize() > 0) data.force();
            }
            for (FileChannel ch : channels) ch.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot flush output shards in " + directory + ": " + e.getMessage(), e);
        }
        if (layout.isSharded()) writeIndex();
        close();
    }

    private void writeIndex() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.putObject("metadata").put("total_size", layout.totalBytes());
        ObjectNode map = root.putObject("weight_map");
        TreeMap<String, String> sorted = new TreeMap<>();
        for (OutputLayout.Shard s : layout.shards()) {
            for (TensorInfo t : s.tensors()) sorted.put(t.name(), s.fileName());
        }
        sorted.forEach(map::put);
        Json.writePretty(directory.resolve(Checkpoint.INDEX_FILE), root);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        arenas.forEach(Arena::close);
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing after a failure: the temporary output is deleted anyway
            }
        }
    }
}
