package io.mergestream.format.safetensors;

import io.mergestream.InputFiles;
import io.mergestream.Names;
import io.mergestream.format.FormatException;
import io.mergestream.format.MappedPages;
import io.mergestream.format.TensorFile;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, memory-mapped once, read-only. Tensors are exposed as slices of the mapping: no
 * tensor byte is copied onto the heap. The mapping lives in a shared arena of its own (so that any thread
 * may read it) that is closed once, when this file is closed.
 */
public final class SafetensorsFile implements TensorFile {

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final long dataStart;
    private final SafetensorsHeader header;
    /** Built on first lookup: a checkpoint indexes its tensors itself, and a second map per shard costs heap. */
    private volatile Map<String, TensorInfo> byName;

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, long dataStart, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.dataStart = dataStart;
        this.header = header;
    }

    /**
     * Maps and validates {@code path}; throws {@link FormatException} naming the file and the rule broken.
     * Only a regular file is opened: a FIFO would block the open, and a device (/dev/zero) has no size to
     * map, or an endless one.
     */
    public static SafetensorsFile open(Path path) {
        InputFiles.requireRegularFile(path, "safetensors file");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping = MappedPages.mapReadOnly(path, arena);
            long size = mapping.byteSize();
            if (size < 8) {
                throw new FormatException(path, "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            long headerLength = mapping.get(U64_LE, 0);
            if (headerLength < 0 || headerLength > SafetensorsHeader.MAX_HEADER_BYTES) {
                throw new FormatException(path, "header length " + Long.toUnsignedString(headerLength)
                        + " exceeds the 100 MB limit");
            }
            if (8 + headerLength > size) {
                throw new FormatException(path, "header length " + headerLength + " runs past the end of the "
                        + size + "-byte file (truncated?)");
            }
            long dataStart = 8 + headerLength;
            SafetensorsHeader header = SafetensorsHeader.parse(path, mapping.asSlice(8, headerLength), size - dataStart);
            MappedPages.sequential(mapping);
            return new SafetensorsFile(path, arena, mapping, dataStart, header);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensors in header order, each made on access (see {@link SafetensorsHeader#tensors()}). */
    @Override
    public List<TensorInfo> tensors() {
        return header.tensors();
    }

    @Override
    public String tensorName(int i) {
        return header.name(i);
    }

    public TensorInfo tensor(String name) {
        return byName().get(name);
    }

    public boolean contains(String name) {
        return byName().containsKey(name);
    }

    private Map<String, TensorInfo> byName() {
        Map<String, TensorInfo> m = byName;
        if (m == null) {
            Map<String, TensorInfo> built = HashMap.newHashMap(header.tensors().size());
            for (TensorInfo t : header.tensors()) built.put(t.name(), t);
            byName = m = Collections.unmodifiableMap(built);
        }
        return m;
    }

    /** The header's {@code __metadata__}, decoded from the mapping on each call (see {@link SafetensorsHeader#metadata()}). */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Size of the file: header length, header and data section. */
    public long fileSize() {
        return mapping.byteSize();
    }

    /** The header's length in bytes (after the 8-byte length field). */
    public long headerLength() {
        return dataStart - 8;
    }

    /** The tensor's bytes, a read-only slice of the mapping. */
    public MemorySegment data(TensorInfo t) {
        return mapping.asSlice(dataStart + t.begin(), t.byteSize());
    }

    /** Where the tensor's bytes start in the file. */
    public long fileOffset(TensorInfo t) {
        return dataStart + t.begin();
    }

    /** The whole mapping, for advice to the OS about pages (madvise). */
    public MemorySegment mapping() {
        return mapping;
    }

    @Override
    public void close() {
        arena.close();
    }
}
