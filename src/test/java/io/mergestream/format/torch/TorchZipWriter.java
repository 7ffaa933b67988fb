package io.mergestream.format.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Writes zip archives laid out as PyTorch's PyTorchStreamWriter (miniz) writes them, from the zip
 * specification (APPNOTE 4.3/4.5): stored records under one folder, local headers with zero sizes, flag bit 3
 * and a data descriptor after the data, the local extra field "FB" padding the data to a multiple of 64
 * (unless alignment is off), zip64 extra fields where a size or offset does not fit 32 bits, and always a
 * zip64 end record and locator before the end record. A record may be sparse: a hole of its size, with a few
 * bytes patched in, so that tests can have entries over 4 GiB without using the disk.
 */
final class TorchZipWriter implements AutoCloseable {

    private static final long U32_MAX = 0xFFFF_FFFFL;

    private record Central(byte[] name, int method, long crc, long compressed, long size, long offset) {}

    private final FileChannel ch;
    private final String archive;
    private final boolean align;
    private final List<Central> central = new ArrayList<>();
    private long pos;

    TorchZipWriter(Path file, String archive, boolean align) {
        try {
            this.ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.archive = archive;
        this.align = align;
    }

    /** A stored record {@code ARCHIVE/name}. */
    TorchZipWriter add(String name, byte[] data) {
        CRC32 crc = new CRC32();
        crc.update(data);
        return entry(name, 0, crc.getValue(), data.length, data.length, data, 0);
    }

    /** A stored record of {@code size} bytes, all zero (a hole) except {@code patch} at its end. */
    TorchZipWriter addSparse(String name, long size, byte[] patch) {
        // CRC-32 of a 4 GiB hole costs seconds; the reader does not check stored tensor records (zero-copy)
        return entry(name, 0, 0, size, size, patch, size - patch.length);
    }

    /** A record with {@code method} and {@code compressed} bytes as given (for refusal tests). */
    TorchZipWriter addRaw(String name, int method, long crc, long size, byte[] compressed) {
        return entry(name, method, crc, compressed.length, size, compressed, 0);
    }

    private TorchZipWriter entry(String record, int method, long crc, long compressed, long size, byte[] bytes, long bytesAt) {
        byte[] name = (archive + "/" + record).getBytes(StandardCharsets.UTF_8);
        long offset = pos;
        boolean zip64 = size >= U32_MAX || compressed >= U32_MAX || offset >= U32_MAX;
        int zip64Extra = zip64 ? 4 + 16 : 0; // local zip64 extra: both sizes (zero here, as miniz leaves them)
        long start = offset + 30 + name.length + zip64Extra + 4;
        int padding = align ? (int) ((64 - start % 64) % 64) : 0;
        int extraLength = zip64Extra + (align ? 4 + padding : 0);
        ByteBuffer h = le(30 + name.length + extraLength);
        h.putInt(0x04034b50).putShort((short) (zip64 ? 45 : 20)).putShort((short) 0x0808).putShort((short) method)
                .putShort((short) 0).putShort((short) 0).putInt(0)
                .putInt(zip64 ? -1 : 0).putInt(zip64 ? -1 : 0)
                .putShort((short) name.length).putShort((short) extraLength).put(name);
        if (zip64) h.putShort((short) 1).putShort((short) 16).putLong(0).putLong(0);
        if (align) {
            h.putShort((short) 0x4246).putShort((short) padding); // "FB", as inline_container.cc's getPadding
            for (int i = 0; i < padding; i++) h.put((byte) 'Z');
        }
        write(h.flip());
        long data = pos;
        write(ByteBuffer.wrap(bytes), data + bytesAt);
        pos = data + compressed;
        ByteBuffer d = le(zip64 ? 24 : 16);
        d.putInt(0x08074b50).putInt((int) crc);
        if (zip64) d.putLong(compressed).putLong(size); else d.putInt((int) compressed).putInt((int) size);
        write(d.flip());
        central.add(new Central(name, method, crc, compressed, size, offset));
        return this;
    }

    @Override
    public void close() {
        long cdOffset = pos;
        for (Central c : central) {
            List<Long> extra = new ArrayList<>();
            if (c.size() >= U32_MAX) extra.add(c.size());
            if (c.compressed() >= U32_MAX) extra.add(c.compressed());
            if (c.offset() >= U32_MAX) extra.add(c.offset());
            int extraLength = extra.isEmpty() ? 0 : 4 + 8 * extra.size();
            ByteBuffer h = le(46 + c.name().length + extraLength);
            h.putInt(0x02014b50).putShort((short) 45).putShort((short) 45).putShort((short) 0x0808)
                    .putShort((short) c.method()).putShort((short) 0).putShort((short) 0).putInt((int) c.crc())
                    .putInt((int) Math.min(c.compressed(), U32_MAX)).putInt((int) Math.min(c.size(), U32_MAX))
                    .putShort((short) c.name().length).putShort((short) extraLength).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0).putInt(0).putInt((int) Math.min(c.offset(), U32_MAX))
                    .put(c.name());
            if (!extra.isEmpty()) {
                h.putShort((short) 1).putShort((short) (8 * extra.size()));
                for (long v : extra) h.putLong(v);
            }
            write(h.flip());
        }
        long cdSize = pos - cdOffset;
        long zip64Record = pos;
        ByteBuffer e = le(56 + 20 + 22);
        e.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(central.size()).putLong(central.size()).putLong(cdSize).putLong(cdOffset);
        e.putInt(0x07064b50).putInt(0).putLong(zip64Record).putInt(1);
        e.putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
                .putShort((short) central.size()).putShort((short) central.size())
                .putInt((int) Math.min(cdSize, U32_MAX)).putInt((int) Math.min(cdOffset, U32_MAX)).putShort((short) 0);
        write(e.flip());
        try {
            ch.close();
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private void write(ByteBuffer b) {
        long at = pos;
        write(b, at);
        pos = at + b.limit();
    }

    private void write(ByteBuffer b, long at) {
        try {
            while (b.hasRemaining()) at += ch.write(b, at);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
