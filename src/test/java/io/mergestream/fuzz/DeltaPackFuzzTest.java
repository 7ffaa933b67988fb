package io.mergestream.fuzz;

import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
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
import java.util.Arrays;
import java.util.HashSet;
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
            if (planted("pack-header")) plantedCarriedFiles(h);
        });
    }

    /**
     * The planted bug {@code pack-header}: code that extracts the carried files as if a pack carried config.json
     * only (every seed does), which loses any other carried file: generation_config.json, a tokenizer file, a chat
     * template. The fuzzer reaches another name through {@code PackHeader.isCarriedName}'s comparisons (Jazzer
     * traces {@code name.equals("generation_config.json")}) and the dictionary, in principle: its 5-minute run from
     * the seeds did NOT find it (2,077,926 inputs; a JSON string must be replaced by one of another length, which
     * libFuzzer's comparison-guided mutations overwrite only in equal lengths). Nor did the two plants before it: an off-by-one in the data-section size given to the parser, as the
     * {@code header} plant does (1,212,658 inputs: here that size is a u64 field of the input, which only a change
     * of its lowest byte by exactly one reaches, where a safetensors file's shrinks with any erased data byte), and
     * a carried file in a directory, {@code additional_chat_templates/NAME.jinja} (1,644,235 inputs without the
     * dictionary, 1,809,831 with it).
     */
    private static void plantedCarriedFiles(PackHeader h) {
        for (PackHeader.CarriedFile c : h.files()) {
            if (!c.name().equals("config.json")) {
                throw new FuzzSupport.PlantedBug("carried file '" + c.name() + "' is not extracted");
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
