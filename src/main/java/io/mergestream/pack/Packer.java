package io.mergestream.pack;

import io.mergestream.InputFiles;
import io.mergestream.MergestreamException;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.OutputFile;
import io.mergestream.format.pack.PackFile;
import io.mergestream.format.TensorSource;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.format.pack.PackWriter;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TensorView;
import io.mergestream.method.ChunkBuffers;
import io.mergestream.method.MagnitudeSelection;
import io.mergestream.method.MergeInputs;
import io.mergestream.method.TaskArithmeticFamily;
import io.mergestream.plan.DarePlanner;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.TensorJob;
import io.mergestream.method.TensorParams;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * {@code mergestream pack}: one streamed pass over base and fine-tune that writes the DARE'd fine-tune as a delta pack
 * (docs/mspack.md). Which tensors are sparsified, copied or refused is {@code dare}'s plan ({@link DarePlanner}), so
 * {@code apply} of the pack gives {@code dare}'s output; the kept elements are chosen by the very tests the merge
 * kernels run (the DARE keep-mask drawn with the pack's seed and ordinal; the magnitude selection's threshold and tie
 * cut-off), and the L1 rule's two sums are taken by the method's own reduction.
 *
 * <p>Each tensor is processed in windows of blocks, the blocks of a window encoded and compressed in parallel and then
 * appended in order: the file is the same for any thread count.
 */
public final class Packer {

    /**
     * What to pack: {@code dare}'s request (its rescale is recorded as the rule {@code apply} uses by default), the
     * DARE mask's model ordinal, the file, threads and elements per block.
     */
    public record Request(DarePlanner.Request dare, int ordinal, Path out, int threads, int blockElements) {}

    /** What was written: tensors by kind, the model's and the pack's bytes, kept values and the bytes spent on them. */
    public record Summary(int deltas, int wholes, long modelBytes, long packBytes, long kept, long keptBytes,
                          long bytesRead, double seconds) {}

    private Packer() {}

    /**
     * Checks {@code out} before anything is planned or written (named {@code -o}, as the command line gives it): never
     * a directory, one of {@code reads}, or an existing file that is not a pack (mergestream replaces only its own).
     */
    public static void checkOutput(Path out, List<Path> reads) {
        OutputFile.check(out, "-o", reads, Packer::isPackHead);
    }

    private static boolean isPackHead(String head) {
        return head.startsWith(new String(PackFile.MAGIC, java.nio.charset.StandardCharsets.ISO_8859_1));
    }

    /**
     * Writes the pack of {@code plan} ({@link DarePlanner#plan} of {@code r.dare()}, which the caller closes),
     * reporting to {@code events} and stopping before the next block once {@code cancelled} says so (the file is then
     * left as it was).
     */
    public static Summary pack(MergePlan plan, Request r, MergeKernel kernel, Progress.Events events,
                               BooleanSupplier cancelled) {
        DarePlanner.Request dare = r.dare();
        if (dare.target() != DarePlanner.Target.DELTA) {
            throw new MergestreamException("a delta pack stores a fine-tune's delta from its base: DARE of the weights"
                    + " cannot be packed");
        }
        PackHeader.Strategy strategy = dare.strategy() == DarePlanner.Strategy.RANDOM ? PackHeader.Strategy.RANDOM
                : PackHeader.Strategy.MAGNITUDE;
        long t0 = System.nanoTime();
        try (ChunkRunner runner = new ChunkRunner(r.threads(), r.blockElements(), cancelled);
             ChunkBuffers buffers = new ChunkBuffers();
             PackWriter w = PackWriter.create(r.out());
             Progress progress = new Progress(Progress.NO_DISPLAY, Progress.Mode.QUIET, plan.inputBytes(), plan.jobs().size(), events)) {
            List<PackHeader.CarriedFile> files = carry(plan.fineTunes().get(0).checkpoint().directory(), w);
            List<PackHeader.Entry> entries = new ArrayList<>();
            long modelBytes = 0, kept = 0, keptBytes = 0, read = 0;
            int deltas = 0;
            for (TensorJob job : plan.jobs()) {
                progress.startTensor(job.name());
                PackHeader.Entry e = job.kind() == TensorJob.Kind.COPY
                        ? whole(job, r.blockElements(), runner, w)
                        : delta(job, r, strategy, kernel, runner, buffers, w);
                entries.add(e);
                if (e.kind() == PackHeader.Kind.DELTA) {
                    deltas++;
                    kept += e.kept();
                    keptBytes += e.storedBytes();
                    modelBytes += job.models().get(0).info().byteSize();
                } else {
                    modelBytes += e.elements() * e.dtype().byteSize();
                }
                read += job.inputBytes();
                progress.add(job.inputBytes());
                progress.finishTensor();
            }
            PackHeader h = new PackHeader(PackHeader.VERSION, strategy, dare.density(), dare.seed(), r.ordinal(),
                    dare.rescale().word(), r.blockElements(), name(dare.base()), name(dare.model()), files, entries);
            // a cancel that came after the last block still leaves the file as it was
            if (cancelled.getAsBoolean()) throw new java.util.concurrent.CancellationException("cancelled");
            long size = w.finish(h);
            return new Summary(deltas, entries.size() - deltas, modelBytes, size, kept, keptBytes, read,
                    (System.nanoTime() - t0) / 1e9);
        }
    }

    private static String name(Path p) {
        Path f = p.toAbsolutePath().normalize().getFileName();
        return f == null ? p.toString() : f.toString();
    }

    /** The fine-tune's config and tokenizer files, the ones dare copies into its output. */
    private static List<PackHeader.CarriedFile> carry(Path dir, PackWriter w) {
        List<String> names = new ArrayList<>();
        names.add(ModelFiles.CONFIG);
        names.add("generation_config.json");
        names.addAll(ModelFiles.TOKENIZER_FILES);
        names.addAll(ModelFiles.BASE_FILES);
        Path templates = dir.resolve(ModelFiles.ADDITIONAL_CHAT_TEMPLATES);
        if (Files.isDirectory(templates)) {
            try (var ls = Files.newDirectoryStream(templates, "*.jinja")) {
                List<String> t = new ArrayList<>();
                for (Path f : ls) if (Files.isRegularFile(f)) t.add(ModelFiles.ADDITIONAL_CHAT_TEMPLATES + "/" + f.getFileName());
                java.util.Collections.sort(t);
                names.addAll(t);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + templates + ": " + e.getMessage(), e);
            }
        }
        List<PackHeader.CarriedFile> out = new ArrayList<>();
        for (String n : names) {
            Path f = dir.resolve(n);
            if (!Files.isRegularFile(f)) continue;
            long size = InputFiles.requireReadable(f, "model file", InputFiles.MAX_JSON_BYTES);
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(f);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
            }
            if (bytes.length != size) throw new UncheckedIOException(new IOException(f + " changed while it was read"));
            out.add(new PackHeader.CarriedFile(n, w.append(PackWriter.encode(bytes, bytes.length, 0))));
        }
        return out;
    }

    /** A tensor stored whole, in blocks of its own bytes. */
    private static PackHeader.Entry whole(TensorJob job, int be, ChunkRunner runner, PackWriter w) {
        TensorSource src = job.source();
        DType d = src.info().dtype();
        int size = d.byteSize();
        long n = src.info().elements();
        List<PackHeader.Block> blocks = inWindows(n, be, runner, w, (start, count) -> {
            byte[] raw = new byte[count * size];
            MemorySegment mapped = src.mapped();
            if (mapped != null) {
                MemorySegment.copy(mapped, ValueLayout.JAVA_BYTE, start * size, raw, 0, raw.length);
            } else {
                src.fill(start, count, MemorySegment.ofArray(raw));
            }
            return PackWriter.encode(raw, raw.length, 0);
        });
        src.doneReading(false);
        return new PackHeader.Entry(job.name(), PackHeader.Kind.WHOLE, d, src.info().shape(), null, 0, 0, 0, 0, 0, blocks);
    }

    /** The kept elements of one float tensor's delta. */
    private static PackHeader.Entry delta(TensorJob job, Request r, PackHeader.Strategy strategy, MergeKernel kernel,
                                          ChunkRunner runner, ChunkBuffers buffers, PackWriter w) {
        TensorSource bs = job.base(), ms = job.models().get(0);
        DType bd = bs.info().dtype(), md = ms.info().dtype();
        long n = job.elements();
        boolean magnitude = strategy == PackHeader.Strategy.MAGNITUDE;
        double density = r.dare().density();
        long seed = r.dare().seed();
        try (MergeInputs in = new MergeInputs(bs, new TensorSource[] {ms}, job.shape(), buffers, runner, true)) {
            TensorView base = in.base(), model = in.models()[0];
            Sparsifier s = magnitude
                    ? MagnitudeSelection.select(kernel, runner, base, model, in.modelElements()[0], n, density, false)
                    : DareMask.sparsifier(seed, r.ordinal(), job.name(), density, false);
            double[] sums = density >= 1 ? new double[2] : TaskArithmeticFamily.l1Sums(kernel, in, 0, runner, s);
            KeepTest keep = keepTest(s, base, model);
            boolean xor = md == bd;
            int size = md.byteSize(), bsize = bd.byteSize();
            long[] keptCount = new long[1];
            List<PackHeader.Block> blocks = inWindows(n, r.blockElements(), runner, w, (e0, count) -> {
                int bm = magnitude ? (count + 7) >>> 3 : 0;
                int k = 0;
                boolean[] kept = new boolean[count];
                for (int o = 0; o < count; o++) if (kept[o] = keep.test(e0 + o)) k++;
                byte[] raw = new byte[bm + k * size];
                int j = 0;
                for (int o = 0; o < count; o++) {
                    if (!kept[o]) continue;
                    if (magnitude) raw[o >>> 3] |= (byte) (1 << (o & 7));
                    long i = e0 + o;
                    int v = bits(model.data(), size, i * size);
                    if (xor) v ^= bits(base.data(), size, i * bsize);
                    for (int p = 0; p < size; p++) raw[bm + p * k + j] = (byte) (v >>> (8 * p));
                    j++;
                }
                synchronized (keptCount) {
                    keptCount[0] += k;
                }
                long baseHash = io.mergestream.format.pack.PackFile.hash(base.data().asSlice(e0 * bsize, (long) count * bsize));
                return PackWriter.encode(raw, raw.length, baseHash);
            });
            bs.doneReading(false);
            ms.doneReading(false);
            int bits = s instanceof Sparsifier.Magnitude g ? g.thresholdBits() : 0;
            long tie = s instanceof Sparsifier.Magnitude g ? g.tieCutoff() : 0;
            if (!Double.isFinite(sums[0]) || !Double.isFinite(sums[1])) {
                throw new MergestreamException(r.dare().model() + ": tensor '" + io.mergestream.Names.printable(job.name())
                        + "' has a non-finite delta (NaN or infinity), which a pack cannot record the L1 norm of"
                        + " (add --exclude matching it to store it whole)");
            }
            return new PackHeader.Entry(job.name(), PackHeader.Kind.DELTA, md, job.shape(), bd, keptCount[0], sums[0],
                    sums[1], bits, tie, blocks);
        }
    }

    private static int bits(MemorySegment s, int size, long off) {
        return size == 2 ? s.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), off) & 0xFFFF
                : s.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), off);
    }

    @FunctionalInterface
    private interface KeepTest {
        boolean test(long i);
    }

    /** The kernels' keep test for this sparsifier (TaskArithmeticOp): the mask, or |delta| against the threshold. */
    private static KeepTest keepTest(Sparsifier s, TensorView base, TensorView model) {
        return switch (s) {
            case Sparsifier.Random r -> i -> DareMask.keep(i, r.k0(), r.k1(), r.threshold());
            case Sparsifier.Magnitude m -> i -> {
                float d = model.get(i) - base.get(i);
                int ab = Float.floatToRawIntBits(d) & 0x7FFFFFFF;
                return ab > m.thresholdBits() || (ab == m.thresholdBits() && i < m.tieCutoff());
            };
            case Sparsifier.None none -> i -> true;
        };
    }

    @FunctionalInterface
    private interface BlockEncoder {
        PackWriter.Encoded encode(long start, int count);
    }

    /** Encodes the blocks of [0, n) a window at a time in parallel, appending each window's blocks in order. */
    private static List<PackHeader.Block> inWindows(long n, int be, ChunkRunner runner, PackWriter w, BlockEncoder enc) {
        long blocks = (n + be - 1) / be;
        int window = Math.max(1, runner.threads() * 4);
        List<PackHeader.Block> out = new ArrayList<>((int) Math.min(blocks, Integer.MAX_VALUE - 8));
        for (long b0 = 0; b0 < blocks; b0 += window) {
            int nb = (int) Math.min(window, blocks - b0);
            PackWriter.Encoded[] done = new PackWriter.Encoded[nb];
            long from = b0 * be;
            long span = Math.min(n - from, (long) nb * be);
            runner.forEachChunk(span, be, (start, count) -> done[(int) (start / be)] = enc.encode(from + start, count));
            for (PackWriter.Encoded e : done) out.add(w.append(e));
        }
        return out;
    }
}
