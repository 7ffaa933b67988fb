package io.mergestream.format.pack;

import io.mergestream.InputFiles;
import io.mergestream.format.FormatException;
import io.mergestream.format.MappedPages;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

/**
 * A delta pack, memory-mapped once, read-only (docs/mspack.md): {@code "MSPACK\0\0"}, the header's length (u64
 * little-endian), the JSON header, its xxHash64 (u64 little-endian), then the data section. Blocks are read from the
 * mapping and decoded into the caller's block-sized buffer: no other copy of tensor data is made.
 *
 * <p>Only lz4-java's pure-Java "safe" implementations are used (no JNI library, no {@code sun.misc.Unsafe}): the safe
 * decompressor is told the block's exact decoded size and never writes past it, whatever the input.
 */
public final class PackFile implements AutoCloseable {

    /** The first 8 bytes of every pack. */
    public static final byte[] MAGIC = {'M', 'S', 'P', 'A', 'C', 'K', 0, 0};
    static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final LZ4Factory LZ4 = LZ4Factory.safeInstance();
    static final XXHashFactory XXHASH = XXHashFactory.safeInstance();
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4.safeDecompressor();
    private static final XXHash64 HASH = XXHASH.hash64();

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final PackHeader header;
    private final long fileBytes;

    private PackFile(Path path, Arena arena, MemorySegment data, PackHeader header, long fileBytes) {
        this.fileBytes = fileBytes;
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.header = header;
    }

    /** True when the file starts with the pack magic (for commands that take a model or a pack). */
    public static boolean isPack(Path p) {
        if (!java.nio.file.Files.isRegularFile(p)) return false;
        try (var in = java.nio.file.Files.newInputStream(p)) {
            return java.util.Arrays.equals(in.readNBytes(MAGIC.length), MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    /** Maps and validates {@code path}; throws {@link FormatException} naming the file and the rule broken. */
    public static PackFile open(Path path) {
        InputFiles.requireRegularFile(path, "delta pack");
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping = MappedPages.mapReadOnly(path, arena);
            long size = mapping.byteSize();
            if (size < 16) throw new FormatException(path, "file is " + size + " bytes, shorter than a pack's 16-byte preamble");
            if (MemorySegment.ofArray(MAGIC).mismatch(mapping.asSlice(0, 8)) >= 0) {
                throw new FormatException(path, "not a delta pack (it does not start with MSPACK)");
            }
            long headerLength = mapping.get(U64_LE, 8);
            if (headerLength < 2 || headerLength > PackHeader.MAX_HEADER_BYTES) {
                throw new FormatException(path, "pack header length " + Long.toUnsignedString(headerLength)
                        + " is outside [2, " + PackHeader.MAX_HEADER_BYTES + "]");
            }
            if (16 + headerLength + 8 > size) {
                throw new FormatException(path, "pack header length " + headerLength + " runs past the end of the "
                        + size + "-byte file (truncated?)");
            }
            byte[] json = mapping.asSlice(16, headerLength).toArray(ValueLayout.JAVA_BYTE);
            long stored = mapping.get(U64_LE, 16 + headerLength);
            if (HASH.hash(json, 0, json.length, 0) != stored) {
                throw new FormatException(path, "pack header checksum mismatch (the file is corrupt)");
            }
            long dataStart = 16 + headerLength + 8;
            MemorySegment data = mapping.asSlice(dataStart);
            PackHeader header = PackHeader.parse(path, json, data.byteSize());
            MappedPages.sequential(mapping);
            return new PackFile(path, arena, data, header, size);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public PackHeader header() {
        return header;
    }

    /** Bytes of the whole file. */
    public long fileBytes() {
        return fileBytes;
    }

    /**
     * Decodes {@code b} into {@code dst[0, b.raw())} and checks its xxHash64; {@code what} names the entry for the
     * one-line error. A block whose stored size is its raw size is stored uncompressed.
     */
    public void decode(PackHeader.Block b, byte[] dst, String tensor) {
        MemorySegment src = data.asSlice(b.offset(), b.stored());
        if (b.stored() == b.raw()) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, dst, 0, b.raw());
        } else {
            ByteBuffer in = src.asByteBuffer();
            int n;
            try {
                n = DECOMPRESSOR.decompress(in, 0, b.stored(), ByteBuffer.wrap(dst), 0, b.raw());
            } catch (LZ4Exception | IndexOutOfBoundsException e) {
                throw new FormatException(path, tensor, "block at offset " + b.offset() + " is not valid lz4 (the file is corrupt)");
            }
            if (n != b.raw()) {
                throw new FormatException(path, tensor, "block at offset " + b.offset() + " decodes to " + n + " bytes, not "
                        + b.raw() + " (the file is corrupt)");
            }
        }
        if (HASH.hash(dst, 0, b.raw(), 0) != b.hash()) {
            throw new FormatException(path, tensor, "block at offset " + b.offset() + " checksum mismatch (the file is corrupt)");
        }
    }

    /** xxHash64 (seed 0) of a mapped range: the base's bytes a block was drawn against. */
    public static long hash(MemorySegment s) {
        return HASH.hash(s.asByteBuffer(), 0, (int) s.byteSize(), 0);
    }

    /** xxHash64 (seed 0) of bytes on the heap. */
    public static long hash(byte[] b, int off, int len) {
        return HASH.hash(b, off, len, 0);
    }

    @Override
    public void close() {
        arena.close();
    }
}
