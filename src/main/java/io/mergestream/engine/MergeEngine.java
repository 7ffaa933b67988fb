package io.mergestream.engine;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.format.ChatTemplates;
import io.mergestream.format.InputModel;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.OutputDirectory;
import io.mergestream.format.OutputLayout;
import io.mergestream.format.TensorSource;
import io.mergestream.format.safetensors.ShardedWriter;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.TensorView;
import io.mergestream.method.ChunkBuffers;
import io.mergestream.method.ChunkOp;
import io.mergestream.method.MergeInputs;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.ModelInput;
import io.mergestream.plan.TensorJob;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import io.mergestream.tensor.DType;

/**
 * Runs a {@link MergePlan}: lays out the output shards, then streams every tensor through the kernels, chunk
 * by chunk on a fixed pool of threads: each chunk is computed into the worker's own buffer and handed to the
 * {@link OutputSink} (the sharded writer's positional writes); finally writes config, tokenizer, model card
 * and recipe and moves the finished directory into place. Tensors are processed one after the other (a
 * method's reduction pass must finish before its map pass), each on all threads.
 */
public final class MergeEngine {

    /**
     * How to run: threads, chunk size (elements), kernel, shard size, progress display, the events reported as the
     * run goes and the condition that cancels it (checked before every chunk, see {@link ChunkRunner}).
     */
    public record Options(int threads, int chunkElements, MergeKernel kernel, long maxShardBytes,
                          Progress.Mode progress, PrintStream err, Progress.Events events, BooleanSupplier cancelled) {
        public static final int DEFAULT_CHUNK_ELEMENTS = 1 << 16;

        /** The command line's options: progress on {@code err} as {@code progress} says, no events, no cancel. */
        public Options(int threads, int chunkElements, MergeKernel kernel, long maxShardBytes, Progress.Mode progress,
                       PrintStream err) {
            this(threads, chunkElements, kernel, maxShardBytes, progress, err, new Progress.Events() { }, () -> false);
        }
    }

    /** What a run did, for the summary line. */
    public record Summary(int tensors, long bytesRead, long bytesWritten, double seconds, MemoryStats memory) {
        public long inputBytesPerSecond() {
            return (long) (bytesRead / Math.max(seconds, 1e-9));
        }
    }

    private MergeEngine() {}

    /** Merges into {@code out} atomically: on any failure nothing is left at {@code out}. */
    public static Summary run(MergePlan plan, Path out, boolean force, Options o, ModelCard card) {
        long t0 = System.nanoTime();
        try (OutputDirectory dir = OutputDirectory.prepare(out, force, plan.inputPaths())) {
            OutputLayout layout = OutputLayout.plan(layoutEntries(plan), o.maxShardBytes());
            try (ShardedWriter writer = ShardedWriter.create(dir.staging(), layout)) {
                writeTensors(plan, OutputSink.of(writer), o);
                writer.finish();
            }
            ModelFiles.copy(plan.configSource(), plan.tokenizerSource(), dir.staging(), plan.configDtype(),
                    plan.outputLayers(), plan.vocabularyRows());
            if (plan.vocabulary() != null) plan.vocabulary().writeFiles(dir.staging());
            // after the vocabulary's tokenizer_config.json, which would otherwise bring the source's template back
            if (plan.recipe() != null) ChatTemplates.apply(dir.staging(), plan.recipe().chatTemplate(), plan.inputPaths());
            card.write(dir.staging(), plan, out);
            // a cancel that came after the last chunk still leaves nothing at out
            if (o.cancelled().getAsBoolean()) throw new java.util.concurrent.CancellationException("cancelled");
            dir.commit();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Summary(plan.jobs().size(), plan.inputBytes(), plan.outputBytes(), secs, MemoryStats.now());
    }

    /**
     * Merges into {@code sink} alone: every output tensor, no directory and no config, tokenizer or model card
     * (the library API's stream and memory outputs). Cancelled as {@link Options#cancelled()} says.
     */
    public static Summary run(MergePlan plan, OutputSink sink, Options o) {
        long t0 = System.nanoTime();
        writeTensors(plan, sink, o);
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Summary(plan.jobs().size(), plan.inputBytes(), plan.outputBytes(), secs, MemoryStats.now());
    }

    /** Every job's output tensor into {@code sink}, on the threads, kernel and progress {@code o} gives. */
    private static void writeTensors(MergePlan plan, OutputSink sink, Options o) {
        try (ChunkRunner runner = new ChunkRunner(o.threads(), o.chunkElements(), o.cancelled());
             Progress progress = new Progress(o.err(), o.progress(), plan.inputBytes(), plan.jobs().size(), o.events())) {
            // an input truncated under the merge faults on its mapped pages: one line naming it (exit 1)
            MappedInputFault.guard(inputCheckpoints(plan), () -> {
                writeTensors(plan, sink, runner, o.kernel(), progress);
                return null;
            });
        }
    }

    /** The plan's output tensors in the order of their data in one safetensors file (name, dtype, shape). */
    public static OutputLayout singleFileLayout(MergePlan plan) {
        return OutputLayout.plan(layoutEntries(plan), Long.MAX_VALUE);
    }

    static List<OutputLayout.Entry> layoutEntries(MergePlan plan) {
        List<OutputLayout.Entry> entries = new ArrayList<>();
        for (TensorJob j : plan.jobs()) entries.add(new OutputLayout.Entry(j.name(), j.outDtype(), j.shape()));
        return entries;
    }

    /**
     * Computes every job's output tensor, chunk by chunk, into {@code sink}.
     *
     * <p>The seam between methods and sink: each chunk {@code [start, start + count)} is computed into a
     * per-thread off-heap buffer viewed as a window with origin {@code start} ({@link TensorView}), and the
     * window's bytes go to the sink at the chunk's byte offset. That is exact because every method's map step
     * ({@link ChunkOp}, method/*.java) writes only elements {@code [start, start + count)} of its output: the
     * kernel calls (taskArithmetic, linear, convert) over exactly that range, and the per-element loops
     * (Combination.perVector, NearSwap, Ram, Sce, ArceeFusion, the breadcrumbs/DELLA path of TaskArithmeticFamily) from
     * start to start + count; the window's bounds would reject anything else. No method reads its output back.
     * While a chunk is in cache its NaN/Inf are counted ({@link NonFinite}); a tensor with any is reported.
     */
    public static void writeTensors(MergePlan plan, OutputSink sink, ChunkRunner runner, MergeKernel kernel,
                                    Progress progress) {
        int widest = 1;
        for (TensorJob job : plan.jobs()) widest = Math.max(widest, job.outDtype().byteSize());
        try (OutputBuffers buffers = new OutputBuffers((long) runner.chunkElements() * widest)) {
            writeTensors(plan, sink, runner, kernel, progress, buffers);
        }
    }

    private static void writeTensors(MergePlan plan, OutputSink sink, ChunkRunner runner, MergeKernel kernel,
                                     Progress progress, OutputBuffers buffers) {
        boolean evictInputs = inputsExceedMemory(plan);
        List<TensorJob> jobs = plan.jobs();
        // computed inputs (LoRA products, remapped vocabularies, decoded F64/FP8) fill these per-thread buffers
        try (ChunkBuffers inputBuffers = new ChunkBuffers();
             // only for inputs larger than memory, which are read cold: with the inputs cached, a third thread
             // mapping pages ahead made the 1 GB-per-model merge 16 % slower (bench/README.md)
             InputPrefetch prefetch = evictInputs
                     ? new InputPrefetch(jobs, InputPrefetch.defaultAheadBytes(physicalMemory())) : null) {
            for (int index = 0; index < jobs.size(); index++) {
                TensorJob job = jobs.get(index);
                runner.checkCancelled(); // between tensors too, where no chunk runs to see the cancel
                if (prefetch != null) prefetch.starting(index);
                progress.startTensor(job.name());
                long elements = job.elements();
                long nonFinite = 0;
                if (elements > 0) {
                    double bytesPerElement = (double) job.inputBytes() / elements;
                    boolean copy = job.kind() == TensorJob.Kind.COPY;
                    // a merge's inputs, materialised for this tensor only when its method reads whole tensors
                    try (MergeInputs in = copy ? null : inputs(plan, job, inputBuffers, runner)) {
                        ChunkOp op = copy ? copyOp(job, inputBuffers)
                                : plan.method().prepare(job.name(), job.params(), in, kernel, runner);
                        nonFinite = writeChunks(job, op, sink, runner, kernel, progress, buffers, bytesPerElement);
                    }
                }
                if (nonFinite > 0) warnNonFinite(job, nonFinite);
                releaseInputs(job, evictInputs);
                sink.tensorDone(job.name());
                progress.finishTensor();
            }
        }
    }

    /** Runs {@code op} over every chunk of the job into the workers' buffers and on to the sink; returns the NaN/Inf count. */
    private static long writeChunks(TensorJob job, ChunkOp op, OutputSink sink, ChunkRunner runner, MergeKernel kernel,
                                    Progress progress, OutputBuffers buffers, double bytesPerElement) {
        DType dtype = job.outDtype();
        int size = dtype.byteSize();
        List<OutputBuffers.Worker> workers = runner.reduce(job.elements(), buffers::take, (w, start, count) -> {
            TensorView window = new TensorView(w.buffer().asSlice(0, (long) count * size), dtype, start);
            op.run(kernel, window, start, count);
            w.nonFinite += NonFinite.count(window);
            sink.write(job.name(), start * size, window.data());
            progress.add((long) (count * bytesPerElement));
        });
        long nonFinite = 0;
        for (OutputBuffers.Worker w : workers) {
            nonFinite += w.nonFinite;
            buffers.give(w);
        }
        return nonFinite;
    }

    /**
     * One warning for an output tensor with NaN or ±Inf values, with each input's own count so that the
     * user sees where they came from (counted only now: reading the inputs again is the rare case's cost).
     */
    private static void warnNonFinite(TensorJob job, long nonFinite) {
        StringBuilder sb = new StringBuilder();
        sb.append(job.name()).append(": ").append(nonFinite).append(" of ").append(job.elements())
                .append(" output values are NaN or infinite; non-finite input values: ");
        List<String> parts = new ArrayList<>();
        if (job.source() != null) parts.add(inputCount(job.source()));
        if (job.base() != null) parts.add("base " + inputCount(job.base()));
        for (TensorSource m : job.models()) parts.add(inputCount(m));
        sb.append(String.join(", ", parts));
        io.mergestream.Warnings.warn(sb.toString());
    }

    private static String inputCount(TensorSource t) {
        if (t instanceof io.mergestream.format.StoredTensor st) {
            return st.shard().path() + " " + NonFinite.count(st.data(), st.info().dtype());
        }
        MemorySegment mapped = t.mapped();
        return t.name() + (mapped != null ? " " + NonFinite.count(mapped, t.info().dtype()) : " (computed: not counted)");
    }

    /** Every checkpoint the plan reads (a model may be the base and a fine-tune: listed once). */
    static List<InputModel> inputCheckpoints(MergePlan plan) {
        List<InputModel> all = new ArrayList<>();
        if (plan.base() != null) all.add(plan.base().checkpoint());
        for (ModelInput m : plan.fineTunes()) {
            if (all.stream().noneMatch(c -> c == m.checkpoint())) all.add(m.checkpoint());
        }
        return all;
    }

    /** Finished inputs leave the resident set, and the page cache too when they exceed memory. */
    private static void releaseInputs(TensorJob job, boolean evictInputs) {
        if (job.source() != null) job.source().doneReading(evictInputs);
        if (job.base() != null) job.base().doneReading(evictInputs);
        for (TensorSource m : job.models()) m.doneReading(evictInputs);
    }

    /**
     * Whether to evict finished inputs from the page cache: only when inputs and output together exceed 60% of
     * physical memory. Below that, keeping them cached makes the next run over the same models faster.
     */
    static boolean inputsExceedMemory(MergePlan plan) {
        return plan.inputBytes() + plan.outputBytes() > 0.6 * physicalMemory();
    }

    private static long physicalMemory() {
        return ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }

    /** A copy reads its source chunk by chunk, whatever the source (mapped: in place; computed: filled). */
    private static ChunkOp copyOp(TensorJob job, ChunkBuffers inputBuffers) {
        TensorSource source = job.source();
        boolean convert = source.info().dtype() != job.outDtype();
        int size = job.outDtype().byteSize();
        return (k, out, start, count) -> {
            TensorView in = inputBuffers.window(source, 0, start, count);
            if (convert) {
                k.convert(in, out, start, count);
            } else {
                MemorySegment.copy(in.data(), in.offsetOf(start), out.data(), out.offsetOf(start), (long) count * size);
            }
        };
    }

    /** The job's sources as the method reads them: whole tensors unless the method streams its inputs. */
    private static MergeInputs inputs(MergePlan plan, TensorJob job, ChunkBuffers inputBuffers, ChunkRunner runner) {
        return new MergeInputs(job.base(), job.models().toArray(TensorSource[]::new), job.shape(), inputBuffers,
                runner, !plan.method().streamsInputs(job.params()));
    }
}
