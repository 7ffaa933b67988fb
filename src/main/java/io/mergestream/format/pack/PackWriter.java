package io.mergestream.format.pack;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import net.jpountz.lz4.LZ4Compressor;

/**
 * Writes a delta pack: blocks are appended, in order, to a temporary data file beside the output; {@link #finish}
 * writes the preamble and header (which holds every block's offset, so it can only be written last) to a second
 * temporary sibling, appends the data and renames it over the output. A pack is written whole or not at all, and no
 * file but the two temporaries this writer created is ever removed.
 */
public final class PackWriter implements AutoCloseable {

    private static final LZ4Compressor COMPRESSOR = PackFile.LZ4.fastCompressor();

    private final Path out;
    private final Path data;
    private final Path staged;
    private final FileChannel channel;
    private long position;
    private boolean finished;

    /** A block compressed and hashed (by any thread), to be appended in order. */
    public record Encoded(byte[] bytes, int stored, int raw, long hash, long baseHash) {}

    private PackWriter(Path out, Path data, Path staged, FileChannel channel) {
        this.out = out;
        this.data = data;
        this.staged = staged;
        this.channel = channel;
    }

    public static PackWriter create(Path out) {
        Path abs = out.toAbsolutePath();
        String stem = "." + abs.getFileName() + ".tmp-" + ProcessHandle.current().pid();
        Path data = abs.resolveSibling(stem + "-data");
        Path staged = abs.resolveSibling(stem);
        try {
            FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            return new PackWriter(abs, data, staged, ch);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    /**
     * Compresses {@code raw[0, len)} with lz4 (kept as it is when that does not make it smaller) and hashes it with
     * xxHash64; {@code baseHash} is the xxHash64 of the base's bytes under the block (0 for a whole tensor). Thread-safe.
     */
    public static Encoded encode(byte[] raw, int len, long baseHash) {
        long hash = PackFile.hash(raw, 0, len);
        byte[] c = new byte[COMPRESSOR.maxCompressedLength(len)];
        int n = len == 0 ? 0 : COMPRESSOR.compress(raw, 0, len, c, 0, c.length);
        if (n >= len) return new Encoded(java.util.Arrays.copyOf(raw, len), len, len, hash, baseHash);
        return new Encoded(c, n, len, hash, baseHash);
    }

    /** Appends an encoded block; returns its entry for the header. */
    public PackHeader.Block append(Encoded e) {
        try {
            ByteBuffer b = ByteBuffer.wrap(e.bytes(), 0, e.stored());
            while (b.hasRemaining()) channel.write(b);
        } catch (IOException x) {
            throw new UncheckedIOException("cannot write " + out + ": " + x.getMessage(), x);
        }
        PackHeader.Block block = new PackHeader.Block(position, e.stored(), e.raw(), e.hash(), e.baseHash());
        position += e.stored();
        return block;
    }

    /** Bytes of blocks appended so far. */
    public long dataBytes() {
        return position;
    }

    /** Writes the pack with {@code header} (whose blocks are the ones appended) into place; returns its size. */
    public long finish(PackHeader header) {
        byte[] json = header.toJson();
        ByteBuffer pre = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        pre.put(PackFile.MAGIC).putLong(json.length).flip();
        ByteBuffer post = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        post.putLong(PackFile.hash(json, 0, json.length)).flip();
        try {
            channel.force(false);
            try (FileChannel o = FileChannel.open(staged, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 FileChannel in = FileChannel.open(data, StandardOpenOption.READ)) {
                for (ByteBuffer b : new ByteBuffer[] {pre, ByteBuffer.wrap(json), post}) {
                    while (b.hasRemaining()) o.write(b);
                }
                long at = 0;
                while (at < position) at += in.transferTo(at, position - at, o);
                o.force(true);
            }
            try {
                Files.move(staged, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staged, out, StandardCopyOption.REPLACE_EXISTING);
            }
            finished = true;
            return 16 + json.length + 8 + position;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        } finally {
            close();
        }
    }

    /** Removes the temporaries (the output is untouched unless {@link #finish} renamed it into place). */
    @Override
    public void close() {
        try {
            if (channel.isOpen()) channel.close();
            Files.deleteIfExists(data);
            if (!finished) Files.deleteIfExists(staged);
        } catch (IOException e) {
            io.mergestream.Warnings.warn("could not remove a temporary file beside " + out + ": " + e.getMessage());
        }
    }
}
