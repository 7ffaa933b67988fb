package io.mergestream.format.torch;

import io.mergestream.Warnings;
import io.mergestream.format.FormatException;
import io.mergestream.format.MappedPages;
import io.mergestream.format.TensorFile;
import io.mergestream.format.torch.RestrictedUnpickler.PyDict;
import io.mergestream.format.torch.RestrictedUnpickler.StorageRef;
import io.mergestream.format.torch.RestrictedUnpickler.TensorRef;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A PyTorch checkpoint in torch.save's zip format (PyTorch 1.6 and later, what
 * {@code save_pretrained(safe_serialization=False)} writes as {@code pytorch_model.bin}), mapped once and read
 * without Python. The layout, from PyTorch's {@code torch/serialization.py} ({@code _save}) and
 * {@code caffe2/serialize/inline_container.cc} ({@code PyTorchStreamWriter}): every record lies under one
 * top-level folder, the archive name (the file's stem, or {@code archive}); {@code ARCHIVE/data.pkl} is the
 * pickled state dict, in which every storage is a persistent id {@code ('storage', torch.XStorage, key,
 * location, numel)} whose bytes are the record {@code ARCHIVE/data/KEY}; {@code ARCHIVE/byteorder}
 * ({@code little} or {@code big}; newer PyTorch versions write it, 1.13 does not) and {@code ARCHIVE/version} sit
 * beside them. Records are written stored, uncompressed, and the writer pads each local header's extra field
 * (id {@code "FB"}) so that the data start at a multiple of 64 bytes ({@code kFieldAlignment},
 * {@code getPadding}): the tensor bytes lie in the file as they are, ready to be mapped.
 *
 * <p>So a tensor is a slice of the file's mapping at its storage entry's data offset plus
 * {@code storage_offset} elements: no copy, no heap. Tensors may share a storage (tied embeddings, q/k/v views
 * of one fused weight). A tensor whose strides are not row-major is listed (and inspectable) but refused by
 * {@link #data} and {@link #checkReadable} with a one-line message; {@link #layout} gives what a strided copy
 * needs. A compressed entry (a re-zipped file) is inflated, when a tensor of it is first read, into off-heap
 * memory of its own that is freed once every tensor over it has been read (or when the file is closed).
 *
 * <p>Validation, as for safetensors: every entry inside the file and before the central directory, entries
 * not overlapping; every tensor's storage present, of exactly {@code numel × element size} bytes; sizes from
 * shapes with overflow checks; every element of every view inside its storage; no tensor name twice;
 * little-endian data only. Refused by name: a legacy (pre-1.6) torch pickle, a TorchScript archive, a
 * {@code data.pkl} naming any global off the allow-list (see {@link RestrictedUnpickler}).
 */
public final class TorchZipFile implements TensorFile {

    /** The legacy format's first bytes: PROTO 2, then LONG1 of 10 bytes holding torch's magic number. */
    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc, (byte) 0x9c};

    /** How a tensor lies in its storage, for a strided copy of a non-row-major view. */
    public record Layout(long[] shape, long[] strides, long storageOffset, DType dtype, boolean rowMajor) {}

    private record Tensor(TensorInfo info, ZipDirectory.Entry entry, long offsetInStorage, long[] strides,
                          boolean rowMajor) {}

    /** An inflated storage and the tensors over it not yet read. */
    private record Inflated(Arena arena, MemorySegment data, Set<String> unread) {}

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final List<TensorInfo> tensors;
    private final Map<String, Tensor> byName;
    private final Map<String, Inflated> inflated = new HashMap<>();
    private boolean closed;

    private TorchZipFile(Path path, Arena arena, MemorySegment mapping, List<Tensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (Tensor t : tensors) m.put(t.info().name(), t);
        this.byName = Collections.unmodifiableMap(m);
        this.tensors = tensors.stream().map(Tensor::info).toList();
    }

    /** Whether the first {@code n} bytes of {@code head} are those of a legacy (pre-1.6) torch.save file. */
    public static boolean isLegacyPickle(byte[] head, int n) {
        return n >= LEGACY_MAGIC.length && Arrays.equals(head, 0, LEGACY_MAGIC.length, LEGACY_MAGIC, 0, LEGACY_MAGIC.length);
    }

    /** Maps and validates {@code path}; throws {@link FormatException} naming the file and the rule broken. */
    public static TorchZipFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapping = MappedPages.mapReadOnly(path, arena);
            if (!ZipDirectory.hasEndRecord(mapping)) throw notAZip(path, mapping);
            List<ZipDirectory.Entry> entries = ZipDirectory.read(path, mapping);
            List<Tensor> tensors = readStateDict(path, mapping, entries);
            MappedPages.sequential(mapping);
            return new TorchZipFile(path, arena, mapping, tensors);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static FormatException notAZip(Path path, MemorySegment mapping) {
        int n = (int) Math.min(mapping.byteSize(), LEGACY_MAGIC.length); // 7 bytes: enough for "PK\3\4" too
        byte[] head = mapping.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        if (isLegacyPickle(head, n)) {
            return new FormatException(path, "is a legacy PyTorch checkpoint (torch.save before 1.6, or "
                    + "_use_new_zipfile_serialization=False), which mergestream does not read; re-save it in the zip "
                    + "format with torch.save(torch.load(f, weights_only=True), f) or convert it to safetensors");
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return new FormatException(path, "starts as a zip but has no zip end record (truncated or damaged file?)");
        }
        return new FormatException(path, "is neither a torch.save zip checkpoint nor a legacy torch pickle (no zip "
                + "end record); mergestream reads safetensors and torch zip .bin files: convert it to safetensors");
    }

    private static List<Tensor> readStateDict(Path path, MemorySegment mapping, List<ZipDirectory.Entry> entries) {
        if (entries.isEmpty()) throw new FormatException(path, "is an empty zip archive, not a torch.save checkpoint");
        // PyTorchStreamReader: the archive name is the first record's folder; every lookup is prefixed by it
        String first = entries.getFirst().name();
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw new FormatException(path, "zip entry '" + first + "' is not in a folder, so this is not a torch.save checkpoint");
        }
        String prefix = first.substring(0, slash + 1);
        Map<String, ZipDirectory.Entry> byName = new HashMap<>();
        for (ZipDirectory.Entry e : entries) byName.put(e.name(), e);
        ZipDirectory.Entry pickle = byName.get(prefix + "data.pkl");
        if (pickle == null) {
            boolean script = byName.containsKey(prefix + "constants.pkl")
                    || entries.stream().anyMatch(e -> e.name().startsWith(prefix + "code/"));
            throw new FormatException(path, script
                    ? "is a TorchScript archive (torch.jit.save), not a state dict; save the model's state_dict() instead"
                    : "has no " + prefix + "data.pkl, so this zip is not a torch.save checkpoint");
        }
        ZipDirectory.Entry byteorder = byName.get(prefix + "byteorder");
        if (byteorder != null) {
            String order = new String(bytes(path, mapping, byteorder, 16), StandardCharsets.US_ASCII).strip();
            if (order.equals("big")) {
                throw new FormatException(path, "was written on a big-endian machine (byteorder 'big'); mergestream reads "
                        + "little-endian data only: load and re-save it on a little-endian machine");
            }
            if (!order.equals("little")) throw new FormatException(path, "has an unknown byteorder record '" + order + "'");
        }
        Object root = RestrictedUnpickler.load(path, pickle.name(),
                bytes(path, mapping, pickle, RestrictedUnpickler.MAX_PICKLE_BYTES));
        if (!(root instanceof PyDict dict)) {
            throw new FormatException(path, pickle.name() + " holds " + root.getClass().getSimpleName()
                    + ", not a state dict (a dict of tensors)");
        }
        List<Tensor> out = new ArrayList<>();
        for (Map.Entry<Object, Object> e : dict.items.entrySet()) {
            if (!(e.getKey() instanceof String name)) {
                throw new FormatException(path, pickle.name() + " has a key that is not a string: " + e.getKey());
            }
            switch (e.getValue()) {
                case TensorRef t -> out.add(tensor(path, prefix, byName, name, t));
                case PyDict nested -> throw new FormatException(path, name, "is a dict, not a tensor: this is not a flat "
                        + "state dict (a training checkpoint?); save model.state_dict() alone");
                default -> Warnings.warn(path + ": key '" + name + "' holds no tensor (" + e.getValue().getClass().getSimpleName()
                        + "); skipped");
            }
        }
        return out;
    }

    private static Tensor tensor(Path path, String prefix, Map<String, ZipDirectory.Entry> entries, String name,
                                 TensorRef t) {
        StorageRef s = t.storage();
        DType dtype = s.dtype();
        ZipDirectory.Entry entry = entries.get(prefix + "data/" + s.key());
        if (entry == null) {
            throw new FormatException(path, name, "its storage " + prefix + "data/" + s.key() + " is not in the archive");
        }
        long storageBytes;
        long elements;
        long last = t.storageOffset(); // the last element the view touches
        try {
            storageBytes = Math.multiplyExact(s.numel(), dtype.byteSize());
            elements = TensorInfo.elementCount(t.size());
            for (int i = 0; i < t.size().length; i++) {
                if (t.size()[i] > 0) last = Math.addExact(last, Math.multiplyExact(t.size()[i] - 1, t.stride()[i]));
            }
            Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException ex) {
            throw new FormatException(path, name, "shape " + Arrays.toString(t.size()) + " or stride "
                    + Arrays.toString(t.stride()) + " overflows 64 bits");
        }
        if (entry.size() != storageBytes) {
            throw new FormatException(path, name, "storage " + s.key() + " is " + s.numel() + " " + dtype + " elements ("
                    + storageBytes + " bytes) but its zip entry holds " + entry.size() + " bytes");
        }
        if (elements > 0 ? last >= s.numel() : t.storageOffset() > s.numel()) {
            throw new FormatException(path, name, "view (offset " + t.storageOffset() + ", shape "
                    + Arrays.toString(t.size()) + ", stride " + Arrays.toString(t.stride()) + ") reaches past its storage of "
                    + s.numel() + " elements");
        }
        boolean rowMajor = rowMajor(t.size(), t.stride());
        long offsetBytes = t.storageOffset() * dtype.byteSize();
        // begin/end: file positions for a stored entry (the slice the mapping serves), storage positions otherwise
        long begin = (entry.stored() ? entry.dataOffset() : 0) + offsetBytes;
        TensorInfo info = new TensorInfo(name, dtype, t.size(), begin, begin + elements * dtype.byteSize());
        return new Tensor(info, entry, offsetBytes, t.stride(), rowMajor);
    }

    /** Row-major: each stride is the product of the later sizes (a dimension of size 1 may have any stride). */
    static boolean rowMajor(long[] size, long[] stride) {
        long expected = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expected) return false;
            expected *= size[i];
        }
        return true;
    }

    /** The whole (small) entry, inflated if needed; its CRC is checked. */
    private static byte[] bytes(Path path, MemorySegment mapping, ZipDirectory.Entry e, int limit) {
        if (e.size() > limit) {
            throw new FormatException(path, e.name() + " is " + e.size() + " bytes, more than the " + limit
                    + " bytes it can need; refused");
        }
        byte[] out = new byte[(int) e.size()];
        inflateInto(path, mapping, e, MemorySegment.ofArray(out));
        return out;
    }

    /** Copies or inflates the entry's bytes into {@code out} (exactly its size), checking the CRC-32. */
    private static void inflateInto(Path path, MemorySegment mapping, ZipDirectory.Entry e, MemorySegment out) {
        MemorySegment src = mapping.asSlice(e.dataOffset(), e.compressedSize());
        CRC32 crc = new CRC32();
        final long chunk = 1L << 30; // ByteBuffers are int-indexed
        if (e.stored()) {
            MemorySegment.copy(src, 0, out, 0, e.size());
            for (long o = 0; o < e.size(); o += chunk) crc.update(out.asSlice(o, Math.min(chunk, e.size() - o)).asByteBuffer());
        } else if (e.method() == ZipDirectory.Entry.DEFLATED) {
            Inflater inflater = new Inflater(true);
            try {
                long in = 0;
                long written = 0;
                while (!inflater.finished()) {
                    if (inflater.needsInput()) {
                        if (in == src.byteSize()) throw new FormatException(path, "zip entry '" + e.name() + "' is truncated");
                        long n = Math.min(chunk, src.byteSize() - in);
                        inflater.setInput(src.asSlice(in, n).asByteBuffer());
                        in += n;
                    }
                    if (written == e.size()) {
                        // output full: only the end of the deflate stream may remain
                        if (inflater.inflate(ByteBuffer.allocate(1)) > 0) {
                            throw new FormatException(path, "zip entry '" + e.name() + "' inflates to more than its "
                                    + e.size() + " bytes");
                        }
                        if (inflater.needsDictionary()) throw new FormatException(path, "zip entry '" + e.name() + "' needs a preset dictionary");
                        continue;
                    }
                    ByteBuffer dst = out.asSlice(written, Math.min(chunk, e.size() - written)).asByteBuffer();
                    int n = inflater.inflate(dst);
                    if (n > 0) {
                        crc.update(out.asSlice(written, n).asByteBuffer());
                        written += n;
                    } else if (inflater.needsDictionary()) {
                        throw new FormatException(path, "zip entry '" + e.name() + "' needs a preset dictionary");
                    }
                }
                if (written != e.size()) {
                    throw new FormatException(path, "zip entry '" + e.name() + "' inflates to " + written
                            + " bytes, not the " + e.size() + " its header says");
                }
            } catch (DataFormatException ex) {
                throw new FormatException(path, "zip entry '" + e.name() + "' is not valid deflate data: " + ex.getMessage());
            } finally {
                inflater.end();
            }
        } else {
            throw new FormatException(path, "zip entry '" + e.name() + "' uses compression method " + e.method()
                    + "; only stored and deflated entries can be read");
        }
        if (crc.getValue() != e.crc32()) {
            throw new FormatException(path, "zip entry '" + e.name() + "' fails its CRC-32 check (corrupt file)");
        }
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public long fileSize() {
        return mapping.byteSize();
    }

    /** How the tensor lies in its storage: the seam for a strided copy of a view that is not row-major. */
    public Layout layout(TensorInfo t) {
        Tensor x = tensor(t);
        return new Layout(t.shape(), x.strides().clone(), x.offsetInStorage() / t.dtype().byteSize(), t.dtype(), x.rowMajor());
    }

    /**
     * The whole storage the tensor views, row-major or not: with {@link #layout}, what a strided copy reads
     * (element {@code i,j,...} is at {@code storageOffset + i·strides[0] + j·strides[1] + ...}).
     */
    public MemorySegment storage(TensorInfo t) {
        Tensor x = tensor(t);
        if (x.entry().stored()) return mapping.asSlice(x.entry().dataOffset(), x.entry().size());
        return inflated(x);
    }

    @Override
    public void checkReadable(TensorInfo t) {
        Tensor x = tensor(t);
        if (!x.rowMajor()) {
            throw new FormatException(path, t.name(), "is a non-contiguous view (shape " + t.shapeString() + ", stride "
                    + Arrays.toString(x.strides()) + "), which mergestream cannot read yet; re-save the model with "
                    + "contiguous tensors (tensor.contiguous(), e.g. through save_pretrained)");
        }
    }

    @Override
    public MemorySegment data(TensorInfo t) {
        checkReadable(t);
        Tensor x = tensor(t);
        if (x.entry().stored()) return mapping.asSlice(t.begin(), t.byteSize());
        return inflated(x).asSlice(x.offsetInStorage(), t.byteSize());
    }

    @Override
    public long fileOffset(TensorInfo t) {
        Tensor x = tensor(t);
        return x.entry().stored() ? t.begin() : x.entry().dataOffset();
    }

    @Override
    public void prefetch(TensorInfo t) {
        Tensor x = tensor(t);
        // a compressed entry is inflated when read (not ahead of time), a view that is not row-major never read
        if (x.rowMajor() && x.entry().stored()) MappedPages.prefetch(mapping.asSlice(t.begin(), t.byteSize()));
    }

    @Override
    public void doneReading(TensorInfo t, boolean evict) {
        Tensor x = tensor(t);
        if (!x.rowMajor()) return; // never served, so never read
        if (x.entry().stored()) {
            MappedPages.release(mapping.asSlice(t.begin(), t.byteSize()));
            if (evict) MappedPages.evict(path, t.begin(), t.byteSize());
            return;
        }
        // never MADV_DONTNEED anonymous memory (that zeroes it): free the inflated storage once all is read
        synchronized (this) {
            Inflated in = inflated.get(x.entry().name());
            if (in == null) return;
            in.unread().remove(t.name());
            if (in.unread().isEmpty()) {
                inflated.remove(x.entry().name());
                in.arena().close();
            }
        }
    }

    private synchronized MemorySegment inflated(Tensor x) {
        if (closed) throw new IllegalStateException(path + " is closed");
        Inflated in = inflated.get(x.entry().name());
        if (in == null) {
            Arena scratch = Arena.ofShared();
            try {
                MemorySegment data = scratch.allocate(Math.max(1, x.entry().size()), 64).asSlice(0, x.entry().size());
                inflateInto(path, mapping, x.entry(), data);
                Set<String> users = byName.values().stream().filter(o -> o.entry() == x.entry())
                        .map(o -> o.info().name()).collect(Collectors.toCollection(HashSet::new));
                in = new Inflated(scratch, data.asReadOnly(), users);
                inflated.put(x.entry().name(), in);
            } catch (RuntimeException e) {
                scratch.close();
                throw e;
            }
        }
        return in.data();
    }

    private Tensor tensor(TensorInfo t) {
        Tensor x = byName.get(t.name());
        if (x == null || !x.info().equals(t)) throw new IllegalArgumentException(path + " does not hold " + t);
        return x;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Inflated in : inflated.values()) in.arena().close();
        inflated.clear();
        arena.close();
    }
}
