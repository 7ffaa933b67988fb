package io.mergestream.format.torch;

import io.mergestream.format.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The entries of a zip archive, read by hand from a mapped file: end of central directory record (and its
 * zip64 locator and record), central directory headers (with their zip64 extra fields) and every entry's
 * local header. {@code java.util.zip.ZipFile} cannot be used: it does not expose where an entry's bytes start,
 * and that position depends on the local header's extra field, which differs from the central one (torch pads
 * the local one so that data starts 64-byte aligned). Sizes come from the central directory only: torch writes
 * local headers with zero sizes and a data descriptor after the data (flag bit 3).
 *
 * <p>Every entry must lie inside the file, before the central directory, and no two entries may overlap;
 * encrypted entries, multi-disk archives and duplicate names are refused.
 */
final class ZipDirectory {

    /** One entry: its bytes are {@code [dataOffset, dataOffset + compressedSize)} of the file. */
    record Entry(String name, int method, int flags, long crc32, long compressedSize, long size,
                 long localHeaderOffset, long dataOffset) {
        static final int STORED = 0;
        static final int DEFLATED = 8;

        boolean stored() {
            return method == STORED;
        }
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final int EOCD_SIG = 0x06054b50;
    static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    static final int ZIP64_EOCD_SIG = 0x06064b50;
    static final int CENTRAL_SIG = 0x02014b50;
    static final int LOCAL_SIG = 0x04034b50;
    static final int EOCD_SIZE = 22;
    static final int ZIP64_LOCATOR_SIZE = 20;
    static final int ZIP64_EOCD_SIZE = 56;
    static final int CENTRAL_SIZE = 46;
    static final int LOCAL_SIZE = 30;
    private static final long U32_MAX = 0xFFFF_FFFFL;
    private static final int U16_MAX = 0xFFFF;

    private final Path file;
    private final MemorySegment zip;
    private final long size;

    private ZipDirectory(Path file, MemorySegment zip) {
        this.file = file;
        this.zip = zip;
        this.size = zip.byteSize();
    }

    /** Whether the file ends with a zip end record (so that it is a zip at all). */
    static boolean hasEndRecord(MemorySegment zip) {
        return new ZipDirectory(null, zip).findEndRecord() >= 0;
    }

    /** The archive's entries in central directory order; throws {@link FormatException} naming the rule broken. */
    static List<Entry> read(Path file, MemorySegment zip) {
        return new ZipDirectory(file, zip).entries();
    }

    private List<Entry> entries() {
        long eocd = findEndRecord();
        if (eocd < 0) throw bad("has no zip end record (not a zip archive, or truncated)");
        long entryCount = u16(eocd + 10);
        long cdSize = u32(eocd + 12);
        long cdOffset = u32(eocd + 16);
        long cdLimit = eocd; // the central directory ends before the end records
        long diskFields = u16(eocd + 4) | u16(eocd + 6);
        long locator = eocd - ZIP64_LOCATOR_SIZE;
        if (locator >= 0 && i32(locator) == ZIP64_LOCATOR_SIG) {
            // zip64: the 64-bit record wins over the 16/32-bit fields (torch always writes one)
            if (u32(locator + 4) != 0 || u32(locator + 16) > 1) throw bad("is a multi-disk zip archive");
            long record = u64(locator + 8, "zip64 end record offset");
            if (record < 0 || record > locator - ZIP64_EOCD_SIZE || i32(record) != ZIP64_EOCD_SIG) {
                throw bad("zip64 end record locator points to " + record + ", where there is no zip64 end record");
            }
            if (u32(record + 16) != 0 || u32(record + 20) != 0) throw bad("is a multi-disk zip archive");
            entryCount = u64(record + 32, "zip64 entry count");
            cdSize = u64(record + 40, "zip64 central directory size");
            cdOffset = u64(record + 48, "zip64 central directory offset");
            cdLimit = record;
        } else if (entryCount == U16_MAX || cdSize == U32_MAX || cdOffset == U32_MAX) {
            throw bad("end record says zip64 but there is no zip64 end record locator");
        } else if (diskFields != 0) {
            throw bad("is a multi-disk zip archive");
        }
        if (cdOffset > cdLimit || cdSize > cdLimit - cdOffset) {
            throw bad("central directory [" + cdOffset + ", +" + cdSize + ") runs past its end records at " + cdLimit);
        }
        if (entryCount > cdSize / CENTRAL_SIZE) {
            throw bad("claims " + entryCount + " entries in a " + cdSize + "-byte central directory");
        }
        List<Entry> entries = new ArrayList<>(); // not presized: a hostile count would allocate before any check
        Set<String> names = new HashSet<>();
        long p = cdOffset;
        long cdEnd = cdOffset + cdSize;
        for (long i = 0; i < entryCount; i++) {
            Entry e = centralEntry(p, cdEnd, cdOffset, i);
            if (!names.add(e.name())) throw bad("holds the entry '" + e.name() + "' twice");
            entries.add(e);
            p += CENTRAL_SIZE + u16(p + 28) + u16(p + 30) + u16(p + 32);
        }
        if (p != cdEnd) {
            throw bad("central directory holds " + (p - cdOffset) + " bytes of entries, not the " + cdSize + " its end record says");
        }
        checkNoOverlap(entries);
        return entries;
    }

    /** The end of central directory record: the last signature whose comment runs exactly to the end of file. */
    private long findEndRecord() {
        long last = size - EOCD_SIZE;
        for (long pos = last; pos >= 0 && pos >= last - U16_MAX; pos--) {
            if (i32(pos) == EOCD_SIG && pos + EOCD_SIZE + u16(pos + 20) == size) return pos;
        }
        return -1;
    }

    private Entry centralEntry(long p, long cdEnd, long cdOffset, long index) {
        if (p + CENTRAL_SIZE > cdEnd || i32(p) != CENTRAL_SIG) {
            throw bad("central directory entry " + index + " at " + p + " is not a central directory header");
        }
        int flags = (int) u16(p + 8);
        int method = (int) u16(p + 10);
        long crc = u32(p + 16);
        long compressed = u32(p + 20);
        long uncompressed = u32(p + 24);
        int nameLength = (int) u16(p + 28);
        int extraLength = (int) u16(p + 30);
        int commentLength = (int) u16(p + 32);
        long disk = u16(p + 34);
        long localHeader = u32(p + 42);
        long nameAt = p + CENTRAL_SIZE;
        if (nameAt + nameLength + extraLength + commentLength > cdEnd) {
            throw bad("central directory entry " + index + " runs past the central directory");
        }
        String name = name(nameAt, nameLength, index);
        // zip64 extended information: only the fields whose 32/16-bit value is all ones, in this order
        long extra = nameAt + nameLength;
        long extraEnd = extra + extraLength;
        boolean needZip64 = uncompressed == U32_MAX || compressed == U32_MAX || localHeader == U32_MAX || disk == U16_MAX;
        boolean seenZip64 = false;
        while (extra + 4 <= extraEnd) {
            int id = (int) u16(extra);
            int len = (int) u16(extra + 2);
            long data = extra + 4;
            if (data + len > extraEnd) throw bad(name, "central extra field runs past its end");
            if (id == 0x0001) {
                seenZip64 = true;
                long q = data;
                long end = data + len;
                if (uncompressed == U32_MAX) { uncompressed = field64(q, end, name); q += 8; }
                if (compressed == U32_MAX) { compressed = field64(q, end, name); q += 8; }
                if (localHeader == U32_MAX) { localHeader = field64(q, end, name); q += 8; }
                if (disk == U16_MAX) {
                    if (q + 4 > end) throw bad(name, "zip64 extra field is too short");
                    disk = u32(q);
                }
            }
            extra = data + len;
        }
        if (needZip64 && !seenZip64) throw bad(name, "sizes or offset say zip64 but the entry has no zip64 extra field");
        if (disk != 0) throw bad("is a multi-disk zip archive");
        if ((flags & 0x41) != 0) throw bad(name, "is encrypted");
        if (method == Entry.STORED && compressed != uncompressed) {
            throw bad(name, "is stored (not compressed) but its sizes differ: " + compressed + " and " + uncompressed);
        }
        long data = localHeader(localHeader, name, nameAt, nameLength, method, cdOffset);
        if (compressed > cdOffset - data) {
            throw bad(name, "data [" + data + ", +" + compressed + ") runs into the central directory at " + cdOffset
                    + " (truncated file?)");
        }
        return new Entry(name, method, flags, crc, compressed, uncompressed, localHeader, data);
    }

    private long field64(long q, long end, String name) {
        if (q + 8 > end) throw bad(name, "zip64 extra field is too short");
        return u64(q, "zip64 size of '" + name + "'");
    }

    /** Checks the local header against the central one; returns where the entry's data starts. */
    private long localHeader(long at, String name, long centralName, int nameLength, int method, long cdOffset) {
        if (at > cdOffset - LOCAL_SIZE || i32(at) != LOCAL_SIG) {
            throw bad(name, "local header offset " + at + " does not point to a local header");
        }
        int localNameLength = (int) u16(at + 26);
        int localExtraLength = (int) u16(at + 28);
        long data = at + LOCAL_SIZE + localNameLength + localExtraLength;
        if (data > cdOffset) throw bad(name, "local header runs into the central directory");
        if (localNameLength != nameLength
                || MemorySegment.mismatch(zip, at + LOCAL_SIZE, at + LOCAL_SIZE + nameLength, zip, centralName, centralName + nameLength) != -1) {
            throw bad(name, "local header names another entry than the central directory does");
        }
        if (u16(at + 8) != method) throw bad(name, "local and central headers disagree on the compression method");
        return data;
    }

    private void checkNoOverlap(List<Entry> entries) {
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::localHeaderOffset));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1);
            Entry next = byOffset.get(i);
            if (prev.dataOffset() + prev.compressedSize() > next.localHeaderOffset()) {
                throw bad(next.name(), "overlaps the entry '" + prev.name() + "'");
            }
        }
    }

    private String name(long at, int length, long index) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(zip.asSlice(at, length).toArray(ValueLayout.JAVA_BYTE))).toString();
        } catch (CharacterCodingException e) {
            throw bad("central directory entry " + index + " has a name that is not UTF-8");
        }
    }

    private int i32(long at) {
        if (at < 0 || at + 4 > size) return 0;
        return zip.get(U32, at);
    }

    private long u16(long at) {
        if (at + 2 > size) throw bad("ends inside a zip record at " + at);
        return Short.toUnsignedInt(zip.get(U16, at));
    }

    private long u32(long at) {
        if (at + 4 > size) throw bad("ends inside a zip record at " + at);
        return Integer.toUnsignedLong(zip.get(U32, at));
    }

    private long u64(long at, String what) {
        if (at + 8 > size) throw bad("ends inside a zip record at " + at);
        long v = zip.get(U64, at);
        if (v < 0) throw bad(what + " " + Long.toUnsignedString(v) + " is beyond any file size");
        return v;
    }

    private FormatException bad(String problem) {
        return new FormatException(file, problem);
    }

    private FormatException bad(String entry, String problem) {
        return new FormatException(file, "zip entry '" + entry + "' " + problem);
    }
}
