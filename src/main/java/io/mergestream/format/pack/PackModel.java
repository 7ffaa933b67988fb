package io.mergestream.format.pack;

import io.mergestream.Names;
import io.mergestream.Warnings;
import io.mergestream.format.FormatException;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * A delta pack over the base it was made from, as the merge reads a model: the DARE'd fine-tune the pack encodes
 * (what {@code mergestream dare} writes with the pack's density, seed, ordinal, strategy and rescale), every tensor
 * computed chunk by chunk from the base and the kept values, never the whole tensor (the LoRA sources of format.peft
 * are the precedent). {@link #keptDelta} gives the other view a DARE method needs to use the pack's mask as is: the
 * fine-tune's own elements where the mask keeps them, the base's elsewhere (so its delta is the kept delta, unscaled).
 *
 * <p>The base is checked block by block against the xxHash64 the pack recorded for the base's bytes under that block:
 * a different base is refused with one line naming the tensor, never turned into a wrong model. The config and
 * tokenizer files the pack carries are written to a temporary directory of this model's own ({@link #directory()}),
 * removed on {@link #close()}.
 */
public final class PackModel implements InputModel {

    private final PackFile file;
    private final InputModel base;
    private final Path extracted;
    private final Map<String, TensorSource> tensors = new LinkedHashMap<>();
    private final Map<String, Kept> kept = new LinkedHashMap<>();
    private boolean closed;

    private PackModel(PackFile file, InputModel base, Path extracted) {
        this.file = file;
        this.base = base;
        this.extracted = extracted;
    }

    /**
     * Opens {@code path} over {@code base}; {@code readable} turns a base tensor into the source the pack was drawn
     * against (the planner's F64/FP8 decoding), {@code kernel} computes the DARE'd elements, {@code rescale}
     * ({@code inverse}, {@code l1} or {@code none}; null: the pack's own) is what kept deltas become. Refused with
     * one line when the base lacks a tensor the pack depends on or has it with another dtype or shape.
     */
    public static PackModel open(Path path, InputModel base, UnaryOperator<TensorSource> readable, MergeKernel kernel,
                                 String rescale) {
        PackFile file = PackFile.open(path);
        Path dir = null;
        try {
            PackHeader h = file.header();
            dir = Files.createTempDirectory("mergestream-pack-");
            PackModel m = new PackModel(file, base, dir);
            for (PackHeader.CarriedFile f : h.files()) m.extract(f);
            String rule = rescale != null ? rescale : h.rescale();
            for (PackHeader.Entry e : h.tensors()) {
                if (e.kind() == PackHeader.Kind.WHOLE) {
                    m.tensors.put(e.name(), new Whole(file, e, h.blockElements()));
                    continue;
                }
                TensorSource b = base.tensor(e.name());
                if (b == null) {
                    throw new FormatException(path, e.name(), "the base " + Names.printable(base.location().toString())
                            + " has no such tensor (the pack was made from another base)");
                }
                b = readable.apply(b);
                if (b.info().dtype() != e.baseDtype() || !b.info().sameShape(e.shape())) {
                    throw new FormatException(path, e.name(), "is " + b.info().dtype() + " " + b.info().shapeString()
                            + " in the base " + Names.printable(base.location().toString()) + " but " + e.baseDtype()
                            + " " + e.shapeString() + " in the base the pack was made from");
                }
                Kept k = new Kept(file, h, e, b);
                m.kept.put(e.name(), k);
                m.tensors.put(e.name(), new Dared(k, op(h, e, rule), kernel));
            }
            return m;
        } catch (IOException e) {
            file.close();
            deleteTree(dir);
            throw new UncheckedIOException("cannot create a temporary directory for " + path + "'s files: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            file.close();
            deleteTree(dir);
            throw e;
        }
    }

    public PackHeader header() {
        return file.header();
    }

    public long fileBytes() {
        return file.fileBytes();
    }

    /**
     * The source a method that drops with the DARE keep-mask (dare_linear, dare_ties) should read for this tensor of
     * a pack: the kept delta itself when the method draws the pack's own mask (same density, seed and model
     * ordinal, random strategy), so nothing is dropped twice; otherwise {@code s} (the DARE'd model, dropped again).
     */
    public static TensorSource forDareMask(TensorSource s, double density, long seed, int ordinal) {
        if (!(s instanceof Dared d)) return s;
        PackHeader h = d.kept.header;
        boolean same = h.strategy() == PackHeader.Strategy.RANDOM && h.density() == density && h.seed() == seed
                && h.ordinal() == ordinal;
        if (same) return d.kept;
        if (d.kept.warned.compareAndSet(false, true)) {
            Warnings.warn(Names.printable(d.kept.file.path().toString()) + " was packed with " + h.strategy().word()
                    + " density " + h.density() + ", seed " + Long.toUnsignedString(h.seed()) + ", model ordinal "
                    + h.ordinal() + "; the recipe draws density " + density + ", seed " + Long.toUnsignedString(seed)
                    + ", ordinal " + ordinal + ", so its DARE'd model is dropped again (docs/mspack.md)");
        }
        return s;
    }

    /** The kept-delta view of a DELTA tensor (fine-tune where kept, base elsewhere), or null for a whole tensor. */
    public TensorSource keptDelta(String name) {
        return kept.get(name);
    }

    /** The divisor-and-test record the pack's rule gives: the op {@code dare} runs for this tensor (one model, weight 1). */
    static TaskArithmeticOp op(PackHeader h, PackHeader.Entry e, String rescale) {
        Sparsifier s;
        if (h.density() >= 1) {
            s = new Sparsifier.None();
        } else {
            boolean inverse = rescale.equals("inverse");
            s = h.strategy() == PackHeader.Strategy.RANDOM
                    ? DareMask.sparsifier(h.seed(), h.ordinal(), e.name(), h.density(), inverse)
                    : new Sparsifier.Magnitude(e.thresholdBits(), e.tieCutoff(), (float) h.density(), inverse);
            if (rescale.equals("l1")) {
                float q = Sparsifier.l1Divisor(e.l1Total(), e.l1Kept());
                if (!Float.isNaN(q)) {
                    s = switch (s) {
                        case Sparsifier.Random r -> new Sparsifier.Random(r.threshold(), r.k0(), r.k1(), q, true);
                        case Sparsifier.Magnitude g -> new Sparsifier.Magnitude(g.thresholdBits(), g.tieCutoff(), q, true);
                        case Sparsifier.None none -> none;
                    };
                }
            }
        }
        return new TaskArithmeticOp(new float[] {1f}, new Sparsifier[] {s}, Consensus.NONE, false, 1f);
    }

    private void extract(PackHeader.CarriedFile f) throws IOException {
        byte[] raw = new byte[f.block().raw()];
        file.decode(f.block(), raw, f.name());
        Path to = extracted.resolve(f.name()).normalize();
        if (!to.startsWith(extracted)) throw new FormatException(file.path(), "carried file '" + Names.printable(f.name()) + "' leaves its directory");
        Files.createDirectories(to.getParent());
        Files.write(to, raw);
    }

    @Override
    public Path location() {
        return file.path();
    }

    @Override
    public Path directory() {
        return extracted;
    }

    @Override
    public Collection<? extends TensorSource> tensors() {
        return tensors.values();
    }

    @Override
    public TensorSource tensor(String name) {
        return tensors.get(name);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        file.close();
        deleteTree(extracted);
        base.close();
    }

    /** Removes the temporary directory this model created (only it: the path came from createTempDirectory). */
    private static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            Warnings.warn("could not remove the temporary directory " + dir + ": " + e.getMessage());
        }
    }

    /** The calling thread's decoded block: a block-sized buffer reused for every block this thread decodes. */
    private static final class Cursor {
        Object owner;
        int block = -1;
        byte[] raw = new byte[0];
        MemorySegment base;
        MemorySegment baseScratch = MemorySegment.NULL;
        MemorySegment scratch = MemorySegment.NULL;
        int k;
        long pos, ord;

        MemorySegment scratch(long bytes) {
            if (scratch.byteSize() < bytes) scratch = Arena.ofAuto().allocate(bytes, 64);
            return scratch;
        }
    }

    private static final ThreadLocal<Cursor> CURSOR = ThreadLocal.withInitial(Cursor::new);

    /** The fine-tune's elements where the pack keeps them, the base's elsewhere. */
    static final class Kept implements TensorSource {
        final PackFile file;
        final PackHeader header;
        final PackHeader.Entry entry;
        final TensorSource base;
        final TensorInfo info;
        final int blockElements;
        final boolean xor, bitmap;
        final int k0, k1;
        final long threshold;
        final int size, baseSize;
        final java.util.concurrent.atomic.AtomicBoolean warned = new java.util.concurrent.atomic.AtomicBoolean();

        Kept(PackFile file, PackHeader h, PackHeader.Entry e, TensorSource base) {
            this.file = file;
            this.header = h;
            this.entry = e;
            this.base = base;
            this.blockElements = h.blockElements();
            this.xor = e.dtype() == e.baseDtype();
            this.bitmap = h.strategy() == PackHeader.Strategy.MAGNITUDE;
            // a fine-tune in another dtype than its base is given in F32, where both are exact: base - base is 0
            DType out = xor ? e.dtype() : DType.F32;
            this.info = new TensorInfo(e.name(), out, e.shape(), 0, e.elements() * out.byteSize());
            long key = DareMask.streamKey(h.seed(), h.ordinal(), e.name());
            this.k0 = DareMask.k0(key);
            this.k1 = DareMask.k1(key);
            this.threshold = DareMask.threshold(h.density());
            this.size = e.dtype().byteSize();
            this.baseSize = e.baseDtype().byteSize();
        }

        @Override
        public TensorInfo info() {
            return info;
        }

        @Override
        public long bytesRead() {
            return entry.storedBytes() + base.bytesRead();
        }

        @Override
        public MemorySegment mapped() {
            return null;
        }

        /** Σ|model − base| over the whole tensor the pack was drawn from, as the L1 rescale sums it. */
        @Override
        public double deltaL1() {
            return entry.l1Total();
        }

        boolean keep(Cursor c, long i, long e0) {
            return bitmap ? DeltaCodec.bit(c.raw, (int) (i - e0)) : DareMask.keep(i, k0, k1, threshold);
        }

        /** The cursor holding block {@code bi}, decoded and checked (its values, its base bytes). */
        Cursor block(int bi) {
            Cursor c = CURSOR.get();
            if (c.owner == this && c.block == bi) return c;
            PackHeader.Block b = entry.blocks().get(bi);
            long e0 = (long) bi * blockElements;
            int count = (int) Math.min(blockElements, entry.elements() - e0);
            if (c.raw.length < b.raw()) c.raw = new byte[Math.max(b.raw(), (int) Math.min(Integer.MAX_VALUE - 8, 2L * c.raw.length))];
            c.owner = null;
            file.decode(b, c.raw, entry.name());
            MemorySegment mapped = base.mapped();
            long bytes = (long) count * baseSize;
            if (mapped != null) {
                c.base = mapped.asSlice(e0 * baseSize, bytes);
            } else {
                if (c.baseScratch.byteSize() < bytes) c.baseScratch = Arena.ofAuto().allocate(bytes, 64);
                c.base = c.baseScratch.asSlice(0, bytes);
                base.fill(e0, count, c.base);
            }
            if (PackFile.hash(c.base) != b.baseHash()) {
                throw new FormatException(file.path(), entry.name(), "the base's elements [" + e0 + ", " + (e0 + count)
                        + ") differ from the base this pack was made from (xxHash64 mismatch): apply it to that base");
            }
            int bm = DeltaCodec.bitmapBytes(bitmap, count);
            long keptCount = 0;
            if (bitmap) {
                for (int o = 0; o < count; o++) if (DeltaCodec.bit(c.raw, o)) keptCount++;
                for (int o = count; o < bm * 8; o++) {
                    if (DeltaCodec.bit(c.raw, o)) throw corrupt(bi, "sets bitmap bits past its last element");
                }
            } else {
                for (long i = e0; i < e0 + count; i++) if (DareMask.keep(i, k0, k1, threshold)) keptCount++;
            }
            if (b.raw() != bm + keptCount * size) {
                throw corrupt(bi, "holds " + (b.raw() - bm) + " value bytes, but its keep-mask keeps " + keptCount
                        + " elements of " + size + " bytes");
            }
            c.k = (int) keptCount;
            c.pos = e0;
            c.ord = 0;
            c.block = bi;
            c.owner = this;
            return c;
        }

        private FormatException corrupt(int bi, String problem) {
            return new FormatException(file.path(), entry.name(), "block " + bi + " " + problem + " (the file is corrupt)");
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            long end = start + count;
            for (long p = start; p < end; ) {
                int bi = (int) (p / blockElements);
                long blockEnd = Math.min((long) (bi + 1) * blockElements, entry.elements());
                int n = (int) (Math.min(end, blockEnd) - p);
                fillPiece(block(bi), bi, p, n, dst.asSlice((p - start) * info.dtype().byteSize()));
                p += n;
            }
        }

        /** Elements [p, p + n) of block bi (held by c) into dst from byte 0. */
        void fillPiece(Cursor c, int bi, long p, int n, MemorySegment dst) {
            long e0 = (long) bi * blockElements;
            if (p < c.pos) {
                c.pos = e0;
                c.ord = 0;
            }
            for (; c.pos < p; c.pos++) if (keep(c, c.pos, e0)) c.ord++;
            int valuesAt = DeltaCodec.bitmapBytes(bitmap, (int) Math.min(blockElements, entry.elements() - e0));
            int ord = (int) c.ord;
            for (int o = 0; o < n; o++) {
                long i = p + o;
                long baseOff = (i - e0) * baseSize;
                if (keep(c, i, e0)) {
                    int v = DeltaCodec.value(c.raw, valuesAt, c.k, ord++, size);
                    if (xor) {
                        DeltaCodec.putBits(dst, size, (long) o * size, v ^ DeltaCodec.bits(c.base, size, baseOff));
                    } else {
                        dst.set(io.mergestream.tensor.Elements.F32, 4L * o, DeltaCodec.toFloat(entry.dtype(), v));
                    }
                } else if (xor) {
                    DeltaCodec.putBits(dst, size, (long) o * size, DeltaCodec.bits(c.base, size, baseOff));
                } else {
                    dst.set(io.mergestream.tensor.Elements.F32, 4L * o,
                            io.mergestream.tensor.Elements.decode(c.base, entry.baseDtype(), i - e0));
                }
            }
            c.ord = ord;
            c.pos = p + n;
        }

        @Override
        public void doneReading(boolean evict) {
            base.doneReading(evict);
        }
    }

    /** The DARE'd tensor: base + rescale(kept delta), rounded to the base's dtype by the merge kernel, as dare does. */
    static final class Dared implements TensorSource {
        final Kept kept;
        final TaskArithmeticOp op;
        final MergeKernel kernel;
        final TensorInfo info;

        Dared(Kept kept, TaskArithmeticOp op, MergeKernel kernel) {
            this.kept = kept;
            this.op = op;
            this.kernel = kernel;
            PackHeader.Entry e = kept.entry;
            this.info = new TensorInfo(e.name(), e.baseDtype(), e.shape(), 0, e.elements() * e.baseDtype().byteSize());
        }

        @Override
        public TensorInfo info() {
            return info;
        }

        @Override
        public long bytesRead() {
            return kept.bytesRead();
        }

        @Override
        public MemorySegment mapped() {
            return null;
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            long end = start + count;
            int be = kept.blockElements;
            DType bd = info.dtype();
            DType kd = kept.info.dtype();
            for (long p = start; p < end; ) {
                int bi = (int) (p / be);
                long e0 = (long) bi * be;
                long blockEnd = Math.min(e0 + be, kept.entry.elements());
                int n = (int) (Math.min(end, blockEnd) - p);
                Cursor c = kept.block(bi);
                MemorySegment m = c.scratch((long) n * kd.byteSize()).asSlice(0, (long) n * kd.byteSize());
                kept.fillPiece(c, bi, p, n, m);
                TensorView out = new TensorView(dst.asSlice((p - start) * bd.byteSize(), (long) n * bd.byteSize()), bd, p);
                kernel.taskArithmetic(op, new TensorView(c.base, bd, e0), new TensorView[] {new TensorView(m, kd, p)}, out, p, n);
                p += n;
            }
        }

        @Override
        public void doneReading(boolean evict) {
            kept.doneReading(evict);
        }
    }

    /** A tensor stored whole (excluded, non-float, or one the base lacks). */
    static final class Whole implements TensorSource {
        final PackFile file;
        final PackHeader.Entry entry;
        final TensorInfo info;
        final int blockElements;

        Whole(PackFile file, PackHeader.Entry e, int blockElements) {
            this.file = file;
            this.entry = e;
            this.blockElements = blockElements;
            this.info = new TensorInfo(e.name(), e.dtype(), e.shape(), 0, e.elements() * e.dtype().byteSize());
        }

        @Override
        public TensorInfo info() {
            return info;
        }

        @Override
        public long bytesRead() {
            return entry.storedBytes();
        }

        @Override
        public MemorySegment mapped() {
            return null;
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            int size = info.dtype().byteSize();
            long end = start + count;
            for (long p = start; p < end; ) {
                int bi = (int) (p / blockElements);
                long e0 = (long) bi * blockElements;
                int n = (int) (Math.min(end, Math.min(e0 + blockElements, entry.elements())) - p);
                Cursor c = CURSOR.get();
                if (c.owner != this || c.block != bi) {
                    PackHeader.Block b = entry.blocks().get(bi);
                    if (c.raw.length < b.raw()) c.raw = new byte[b.raw()];
                    c.owner = null;
                    file.decode(b, c.raw, entry.name());
                    c.owner = this;
                    c.block = bi;
                }
                MemorySegment.copy(MemorySegment.ofArray(c.raw), (p - e0) * size, dst, (p - start) * size, (long) n * size);
                p += n;
            }
        }

        @Override
        public void doneReading(boolean evict) {
            // the pack's pages are read once, in order; the mapping goes when the pack is closed
        }
    }

    /** Every DELTA tensor's name (for inspect). */
    public List<String> deltaNames() {
        return new ArrayList<>(kept.keySet());
    }
}
