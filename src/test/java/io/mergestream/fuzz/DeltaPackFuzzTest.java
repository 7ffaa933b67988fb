package io.mergestream.fuzz;

import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.MergestreamException;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.TensorSource;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.format.pack.PackModel;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.Kernels;
import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import net.jpountz.xxhash.XXHashFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzz targets for delta packs (docs/mspack.md): the whole file through {@link PackModel#open} over a fixed tiny base
 * and every tensor read back through its sources (header, block table, lz4 blocks, bitmaps, the base check), and
 * {@link PackHeader#parse} directly. The contract: a valid parse whose invariants hold, or a refusal (the project's
 * MergestreamException with a message); any other throwable is a finding. Corpus:
 * {@code src/test/resources/io/mergestream/fuzz/DeltaPackFuzzTestInputs/<method>/}; the base the seeds were packed
 * against is {@code DeltaPackFuzzBase/} beside it.
 */
class DeltaPackFuzzTest {

    static final Path BASE = Path.of("src/test/resources/io/mergestream/fuzz/DeltaPackFuzzBase");

    @TempDir
    static Path dir;

    /**
     * The input as a pack file. The header's xxHash64 is recomputed when the layout has room for it, so mutations of
     * the header reach the parser and the block reader rather than stopping at the checksum (DeltaPackTest checks
     * that a wrong header checksum is refused).
     */
    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzPack(byte[] file) {
        if (planted("pack")) plantedHeaderLengthCheck(file);
        byte[] f = reseal(file);
        Path p = dir.resolve("fuzz.mspack");
        FuzzSupport.write(p, f);
        FuzzSupport.refusedOr(() -> {
            Checkpoint base = Checkpoint.open(BASE);
            try (PackModel m = PackModel.open(p, base, t -> t, Kernels.scalar(), null)) {
                PackHeader h = m.header();
                checkHeader(h, f.length);
                try (Arena arena = Arena.ofConfined()) {
                    for (TensorSource t : m.tensors()) {
                        readAll(t, arena);
                        TensorSource kept = m.keptDelta(t.name());
                        if (kept != null) checkKept(h, kept, base.tensor(t.name()), arena);
                    }
                }
            } finally {
                base.close();
            }
        });
    }

    /**
     * The input as {@code u64 dataBytes} then the header's JSON. The dictionary is the carried-file names' vocabulary
     * (PackHeader.isCarriedName): the seeds carry only config.json.
     */
    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    @DictionaryEntries({"\"additional_chat_templates/", ".jinja\"", "\"generation_config.json\"", "\"tokenizer.json\""})
    void fuzzHeader(byte[] input) {
        if (input.length < 8) return;
        long dataBytes = ByteBuffer.wrap(input, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (dataBytes < 0) return;
        byte[] json = Arrays.copyOfRange(input, 8, input.length);
        FuzzSupport.refusedOr(() -> {
            PackHeader h = PackHeader.parse(Path.of("fuzz.mspack"), json, dataBytes);
            checkHeader(h, dataBytes);
        });
    }

    /**
     * The header built from typed fields (Jazzer's FuzzedDataProvider: each count, length, offset, dtype, dimension
     * and name is a mutated value of its own, where {@link #fuzzHeader} mutates bytes inside JSON, whose lengths and
     * names libFuzzer seldom changes), serialised as PackWriter does ({@link PackHeader#toJson}) and parsed. The
     * builder makes a valid header (blocks back to back, raw lengths a writer produces), then maybe breaks one rule
     * ({@link Built#broken}). The contract is stronger than "refused or valid": a valid header is accepted and reads
     * back as the same JSON; a broken one is refused with the project's exception.
     */
    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzHeaderFields(FuzzedDataProvider d) {
        Built b = build(d);
        byte[] json = b.header().toJson();
        PackHeader h;
        try {
            h = PackHeader.parse(Path.of("fuzz.mspack"), json, b.dataBytes());
        } catch (MergestreamException refused) {
            check(refused.getMessage() != null && !refused.getMessage().isBlank(), "a refusal without a message");
            check(b.broken() != null, "a valid header refused: " + refused.getMessage());
            return;
        }
        check(b.broken() == null, "a header with " + b.broken() + " accepted");
        checkHeader(h, b.dataBytes());
        check(Arrays.equals(h.toJson(), json), "the parsed header writes other JSON than it was read from");
        if (planted("pack-header")) plantedBitmapBound(h);
    }

    /** A header from typed fields, its data section's size, and the one rule broken in it (null: a valid header). */
    record Built(PackHeader header, long dataBytes, String broken) {}

    private static final List<String> CARRIED = carriedNames();

    private static List<String> carriedNames() {
        List<String> names = new ArrayList<>(List.of(ModelFiles.CONFIG, "generation_config.json"));
        names.addAll(ModelFiles.TOKENIZER_FILES);
        names.addAll(ModelFiles.BASE_FILES);
        names.add(ModelFiles.ADDITIONAL_CHAT_TEMPLATES + "/tool_use.jinja");
        return List.copyOf(names);
    }

    private static final DType[] MERGEABLE = {DType.F32, DType.F16, DType.BF16};

    /**
     * Builds a valid header (small tensors and blocks, so an input stays fast), every field drawn from {@code d},
     * then applies the rule-breaking change {@code d} picks (0: none; an exhausted provider gives 0, so short
     * inputs are valid headers). Each change breaks a rule PackHeader.parse must enforce, whatever the rest holds.
     */
    static Built build(FuzzedDataProvider d) {
        PackHeader.Strategy strategy = d.consumeBoolean() ? PackHeader.Strategy.MAGNITUDE : PackHeader.Strategy.RANDOM;
        int blockElements = d.consumeInt(1, 64);
        double density = d.consumeInt(1, 1000) / 1000.0;
        long seed = d.consumeLong();
        int ordinal = d.consumeInt(0, 3);
        String rescale = d.pickValue(List.of("inverse", "l1", "none"));
        long pos = 0;
        List<PackHeader.CarriedFile> files = new ArrayList<>();
        int nFiles = d.consumeInt(0, 3);
        for (int i = 0; i < nFiles; i++) {
            String name = d.pickValue(CARRIED);
            int raw = d.consumeInt(0, 4096);
            int stored = raw == 0 ? 0 : d.consumeInt(1, raw);
            if (files.stream().anyMatch(f -> f.name().equals(name))) continue;
            files.add(new PackHeader.CarriedFile(name, new PackHeader.Block(pos, stored, raw, d.consumeLong(), 0)));
            pos += stored;
        }
        List<PackHeader.Entry> tensors = new ArrayList<>();
        int nTensors = d.consumeInt(0, 4);
        for (int i = 0; i < nTensors; i++) {
            DType dtype = d.pickValue(DType.values());
            PackHeader.Kind kind = dtype.isMergeable() && d.consumeBoolean() ? PackHeader.Kind.DELTA : PackHeader.Kind.WHOLE;
            long[] shape = new long[d.consumeInt(0, 3)];
            long n = 1;
            for (int k = 0; k < shape.length; k++) n *= shape[k] = d.consumeInt(0, 9);
            int size = dtype.byteSize();
            List<PackHeader.Block> blocks = new ArrayList<>();
            long kept = 0;
            for (long e0 = 0; e0 < n; e0 += blockElements) {
                int count = (int) Math.min(blockElements, n - e0);
                int raw;
                if (kind == PackHeader.Kind.WHOLE) {
                    raw = count * size;
                } else {
                    // a decoded block as DeltaCodec lays it out: the keep bitmap of a magnitude pack, then the kept values
                    int keptHere = d.consumeInt(0, count);
                    kept += keptHere;
                    raw = keptHere * size + (strategy == PackHeader.Strategy.MAGNITUDE ? (count + 7) / 8 : 0);
                }
                int stored = raw == 0 ? 0 : d.consumeInt(1, raw);
                blocks.add(new PackHeader.Block(pos, stored, raw, d.consumeLong(), kind == PackHeader.Kind.DELTA ? d.consumeLong() : 0));
                pos += stored;
            }
            String name = i + d.consumeString(12);
            if (kind == PackHeader.Kind.WHOLE) {
                tensors.add(new PackHeader.Entry(name, kind, dtype, shape, null, 0, 0, 0, 0, 0, blocks));
            } else {
                double l1Total = d.consumeRegularDouble(0, 1e6);
                double l1Kept = d.consumeRegularDouble(0, l1Total);
                boolean mag = strategy == PackHeader.Strategy.MAGNITUDE;
                tensors.add(new PackHeader.Entry(name, kind, dtype, shape, d.pickValue(MERGEABLE), kept, l1Total, l1Kept,
                        mag ? d.consumeInt(0, Integer.MAX_VALUE) : 0, mag ? d.consumeLong(0, Long.MAX_VALUE) : 0, blocks));
            }
        }
        PackHeader valid = new PackHeader(PackHeader.VERSION, strategy, density, seed, ordinal, rescale, blockElements,
                d.consumeString(16), d.consumeString(16), files, tensors);
        return breakOne(d, valid, pos);
    }

    /** The rule-breaking change {@code d} picks, or the header as it is when the change has nothing to apply to. */
    private static Built breakOne(FuzzedDataProvider d, PackHeader h, long dataBytes) {
        int change = d.consumeInt(0, 12);
        List<PackHeader.Entry> ts = new ArrayList<>(h.tensors());
        List<PackHeader.CarriedFile> fs = new ArrayList<>(h.files());
        int ti = ts.isEmpty() ? -1 : d.consumeInt(0, ts.size() - 1);
        PackHeader.Entry t = ti < 0 ? null : ts.get(ti);
        int bi = t == null || t.blocks().isEmpty() ? -1 : d.consumeInt(0, t.blocks().size() - 1);
        PackHeader.Block b = bi < 0 ? null : t.blocks().get(bi);
        long off = d.pickValue(new long[] {-2, -1, 1, 2});
        String broken;
        switch (change) {
            case 1 -> {
                dataBytes += off;
                broken = "a data section of " + dataBytes + " bytes for blocks ending at " + (dataBytes - off);
            }
            case 2 -> {
                if (b == null) return new Built(h, dataBytes, null);
                // the entry's offset is its first block's: shifted, the entry no longer starts where the previous ends
                ts.set(ti, withBlock(t, 0, shifted(t.blocks().get(0), off)));
                broken = "tensor " + ti + " starting " + off + " bytes off";
            }
            case 3 -> {
                if (t == null) return new Built(h, dataBytes, null);
                List<PackHeader.Block> bs = new ArrayList<>(t.blocks());
                if (bs.isEmpty() || d.consumeBoolean()) {
                    bs.add(new PackHeader.Block(0, 0, 0, 0, 0)); // one block more than the elements need
                } else {
                    dataBytes -= bs.remove(bs.size() - 1).stored();
                }
                ts.set(ti, withBlocks(t, bs));
                broken = "tensor " + ti + " with " + bs.size() + " blocks";
            }
            case 4 -> {
                if (b == null) return new Built(h, dataBytes, null);
                // a whole block one byte off its exact length, a delta block one byte past the most it can hold
                int count = (int) Math.min(h.blockElements(), t.elements() - (long) bi * h.blockElements());
                int max = count * t.dtype().byteSize() + (t.kind() == PackHeader.Kind.DELTA
                        && h.strategy() == PackHeader.Strategy.MAGNITUDE ? (count + 7) / 8 : 0);
                int raw = t.kind() == PackHeader.Kind.WHOLE ? max + (off > 0 ? 1 : -1) : max + 1;
                ts.set(ti, withBlock(t, bi, new PackHeader.Block(b.offset(), b.stored(), raw, b.hash(), b.baseHash())));
                broken = "tensor " + ti + " block " + bi + " of " + raw + " raw bytes (" + count + " elements of " + t.dtype() + ")";
            }
            case 5 -> {
                if (b == null) return new Built(h, dataBytes, null);
                ts.set(ti, withBlock(t, bi, new PackHeader.Block(b.offset(), b.raw() + 1, b.raw(), b.hash(), b.baseHash())));
                dataBytes += b.raw() + 1 - b.stored();
                broken = "tensor " + ti + " block " + bi + " storing more than its raw length";
            }
            case 6 -> {
                if (t == null || t.kind() != PackHeader.Kind.DELTA) return new Built(h, dataBytes, null);
                ts.set(ti, new PackHeader.Entry(t.name(), t.kind(), t.dtype(), t.shape(), t.baseDtype(), t.elements() + 1,
                        t.l1Total(), t.l1Kept(), t.thresholdBits(), t.tieCutoff(), t.blocks()));
                broken = "tensor " + ti + " keeping more elements than it has";
            }
            case 7 -> {
                if (ts.size() < 2) return new Built(h, dataBytes, null);
                PackHeader.Entry o = ts.get((ti + 1) % ts.size());
                ts.set(ti, new PackHeader.Entry(o.name(), t.kind(), t.dtype(), t.shape(), t.baseDtype(), t.kept(),
                        t.l1Total(), t.l1Kept(), t.thresholdBits(), t.tieCutoff(), t.blocks()));
                broken = "a tensor name twice";
            }
            case 8 -> {
                int version = d.pickValue(new int[] {0, PackHeader.VERSION + 1});
                h = new PackHeader(version, h.strategy(), h.density(), h.seed(), h.ordinal(), h.rescale(), h.blockElements(),
                        h.base(), h.model(), fs, ts);
                return new Built(h, dataBytes, "version " + version);
            }
            case 9 -> {
                double density = d.pickValue(new double[] {0, -h.density(), Math.nextUp(1.0), Double.NaN});
                h = new PackHeader(h.version(), h.strategy(), density, h.seed(), h.ordinal(), h.rescale(), h.blockElements(),
                        h.base(), h.model(), fs, ts);
                return new Built(h, dataBytes, "density " + density);
            }
            case 10 -> {
                if (fs.isEmpty()) return new Built(h, dataBytes, null);
                int fi = d.consumeInt(0, fs.size() - 1);
                String name = d.pickValue(List.of("../config.json", "/config.json", "model.safetensors",
                        ModelFiles.ADDITIONAL_CHAT_TEMPLATES + "/.jinja", ModelFiles.ADDITIONAL_CHAT_TEMPLATES + "/a/b.jinja",
                        fs.get((fi + 1) % fs.size()).name()));
                if (fs.size() == 1 && name.equals(fs.get(0).name())) return new Built(h, dataBytes, null);
                fs.set(fi, new PackHeader.CarriedFile(name, fs.get(fi).block()));
                broken = "a carried file named " + name;
            }
            case 11 -> {
                if (t == null || t.elements() == 0) return new Built(h, dataBytes, null);
                // a delta of a dtype the kernels do not merge, a whole tensor of a dtype of another size
                DType other = t.kind() == PackHeader.Kind.DELTA ? DType.I64 : t.dtype().byteSize() == 1 ? DType.F16 : DType.U8;
                ts.set(ti, new PackHeader.Entry(t.name(), t.kind(), other, t.shape(), t.baseDtype(), t.kept(),
                        t.l1Total(), t.l1Kept(), t.thresholdBits(), t.tieCutoff(), t.blocks()));
                broken = "tensor " + ti + " as " + other;
            }
            case 12 -> {
                if (t == null || t.kind() != PackHeader.Kind.DELTA) return new Built(h, dataBytes, null);
                ts.set(ti, new PackHeader.Entry(t.name(), t.kind(), t.dtype(), t.shape(), t.baseDtype(), t.kept(),
                        -1, t.l1Kept(), t.thresholdBits(), t.tieCutoff(), t.blocks()));
                broken = "tensor " + ti + " with a negative l1_total";
            }
            default -> {
                return new Built(h, dataBytes, null);
            }
        }
        return new Built(new PackHeader(h.version(), h.strategy(), h.density(), h.seed(), h.ordinal(), h.rescale(),
                h.blockElements(), h.base(), h.model(), fs, ts), dataBytes, broken);
    }

    private static PackHeader.Block shifted(PackHeader.Block b, long by) {
        return new PackHeader.Block(b.offset() + by, b.stored(), b.raw(), b.hash(), b.baseHash());
    }

    private static PackHeader.Entry withBlock(PackHeader.Entry t, int i, PackHeader.Block b) {
        List<PackHeader.Block> bs = new ArrayList<>(t.blocks());
        bs.set(i, b);
        return withBlocks(t, bs);
    }

    private static PackHeader.Entry withBlocks(PackHeader.Entry t, List<PackHeader.Block> bs) {
        return new PackHeader.Entry(t.name(), t.kind(), t.dtype(), t.shape(), t.baseDtype(), t.kept(), t.l1Total(),
                t.l1Kept(), t.thresholdBits(), t.tieCutoff(), bs);
    }

    /**
     * The planted bug {@code pack-header}: the header's bound on a magnitude delta block, {@code count * dtype size +
     * ceil(count / 8)} (the keep bitmap, then the kept values), with the bitmap sized {@code count / 8}, rounded down
     * (PackHeader.parse would then refuse a valid pack). The bound is off only for a block that keeps every one of its
     * elements (density near 1) when its element count is not a multiple of 8: a valid header the buggy parser
     * refuses. Run here on the header the real parser accepted, as the buggy bound would have judged it.
     */
    private static void plantedBitmapBound(PackHeader h) {
        if (h.strategy() != PackHeader.Strategy.MAGNITUDE) return;
        for (PackHeader.Entry e : h.tensors()) {
            if (e.kind() != PackHeader.Kind.DELTA) continue;
            for (int i = 0; i < e.blocks().size(); i++) {
                long count = Math.min(h.blockElements(), e.elements() - (long) i * h.blockElements());
                long buggyMax = count * e.dtype().byteSize() + count / 8;
                if (e.blocks().get(i).raw() > buggyMax) {
                    throw new FuzzSupport.PlantedBug("a valid header refused: " + e.name() + " block " + i + " decodes to "
                            + e.blocks().get(i).raw() + " bytes, over the bound " + buggyMax + " with a bitmap of " + count
                            + " / 8 bytes");
                }
            }
        }
    }

    /**
     * The planted bug {@code pack}: the framing of {@code PackFile.open} with its bound check
     * {@code 16 + headerLength + 8 > size} written off by one, as {@code headerLength > size - 24 + 1}. The one
     * length it lets through more, a header checksum running one byte past the end of the file, is then read as
     * the reader reads it, and the read fails. Inputs that reach it: a pack cut just inside its header checksum,
     * or the length field set from the comparison's operand.
     */
    private static void plantedHeaderLengthCheck(byte[] file) {
        if (file.length < 16) return;
        long headerLength = ByteBuffer.wrap(file, 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 2 || headerLength > PackHeader.MAX_HEADER_BYTES) return;
        if (headerLength > file.length - 24 + 1) return; // the buggy bound: refused
        try {
            MemorySegment.ofArray(file).get(ValueLayout.JAVA_LONG_UNALIGNED, 16 + headerLength);
        } catch (IndexOutOfBoundsException e) {
            throw new FuzzSupport.PlantedBug("header length " + headerLength + " passed the bound check of a "
                    + file.length + "-byte file: " + e.getMessage());
        }
    }

    private static byte[] reseal(byte[] file) {
        if (file.length < 24) return file;
        long n = ByteBuffer.wrap(file, 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > file.length - 24) return file;
        byte[] out = file.clone();
        long h = XXHashFactory.safeInstance().hash64().hash(out, 16, (int) n, 0);
        ByteBuffer.wrap(out, 16 + (int) n, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(h);
        return out;
    }

    /**
     * A parsed header's invariants: unique names, legal sizes, blocks back to back inside the file. Returns where
     * the last block ends (-1: no blocks).
     */
    static long checkHeader(PackHeader h, long fileBytes) {
        check(h.version() >= 1 && h.version() <= PackHeader.VERSION, "version " + h.version());
        check(h.density() > 0 && h.density() <= 1, "density " + h.density());
        check(h.blockElements() >= 1, "block_elements " + h.blockElements());
        Set<String> names = new HashSet<>();
        long end = -1;
        for (PackHeader.CarriedFile c : h.files()) {
            check(!c.name().contains("..") && !c.name().startsWith("/"), "carried file name " + c.name());
            end = next(end, c.block());
        }
        for (PackHeader.Entry e : h.tensors()) {
            check(names.add(e.name()), "tensor '" + e.name() + "' twice");
            long n = e.elements();
            check(n >= 0, e.name() + " elements " + n);
            check(e.blocks().size() == (n + h.blockElements() - 1) / h.blockElements(), e.name() + " block count");
            if (e.kind() == PackHeader.Kind.DELTA) {
                check(e.dtype().isMergeable() && e.baseDtype().isMergeable(), e.name() + " dtypes");
                check(e.kept() >= 0 && e.kept() <= n, e.name() + " kept " + e.kept());
            }
            for (PackHeader.Block b : e.blocks()) end = next(end, b);
        }
        check(end < 0 || end <= fileBytes, "blocks end at " + end + " past the file");
        return end;
    }

    private static long next(long end, PackHeader.Block b) {
        check(b.stored() >= 0 && b.raw() >= b.stored(), "block lengths " + b);
        check(end < 0 || b.offset() == end || b.stored() == 0, "block at " + b.offset() + " after " + end);
        return b.stored() == 0 && end >= 0 ? end : b.offset() + b.stored();
    }

    /** Every element, in chunks that cross block boundaries: the source fills exactly its bytes or refuses. */
    private static void readAll(TensorSource t, Arena arena) {
        long n = t.info().elements();
        int size = t.info().dtype().byteSize();
        check(t.info().byteSize() == n * size, t.name() + " byte size");
        int chunk = 37;
        MemorySegment buf = arena.allocate((long) chunk * size + 8);
        for (long s = 0; s < n; s += chunk) {
            int c = (int) Math.min(chunk, n - s);
            buf.set(ValueLayout.JAVA_LONG_UNALIGNED, (long) c * size, 0x5A5A5A5A5A5A5A5AL);
            t.fill(s, c, buf);
            check(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) c * size) == 0x5A5A5A5A5A5A5A5AL,
                    t.name() + ": fill wrote past its range");
        }
    }

    /** A random pack's kept view is the base wherever the keep-mask drops an element (same dtype: same bits). */
    private static void checkKept(PackHeader h, TensorSource kept, TensorSource base, Arena arena) {
        if (h.strategy() != PackHeader.Strategy.RANDOM || kept.info().dtype() != base.info().dtype()) return;
        long n = kept.info().elements();
        int size = kept.info().dtype().byteSize();
        MemorySegment buf = arena.allocate(Math.max(1, n * size));
        kept.fill(0, (int) n, buf);
        long key = DareMask.streamKey(h.seed(), h.ordinal(), kept.name());
        long threshold = DareMask.threshold(h.density());
        MemorySegment b = base.mapped();
        for (long i = 0; i < n; i++) {
            if (DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold)) continue;
            check(MemorySegment.mismatch(buf, i * size, (i + 1) * size, b, i * size, (i + 1) * size) < 0,
                    kept.name() + "[" + i + "] is dropped but differs from the base");
        }
        check(kept.info().dtype() != DType.F64, "kept view in F64");
    }
}
