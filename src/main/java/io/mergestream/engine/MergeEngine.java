package io.mergestream.engine;

import io.mergestream.format.ChatTemplates;
import io.mergestream.format.Checkpoint;
import io.mergestream.format.MappedInputFault;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.OutputDirectory;
import io.mergestream.format.OutputLayout;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.safetensors.ShardedWriter;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.TensorView;
import io.mergestream.method.ChunkOp;
import io.mergestream.method.MergeInputs;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.ModelInput;
import io.mergestream.plan.TensorJob;
import java.io.PrintStream;
import io.mergestream.tokenizer.VocabularyPlan;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import io.mergestream.tensor.DType;

/**
 * Runs a {@link MergePlan}: lays out the output shards, then streams every tensor through the kernels, chunk
 * by chunk on a fixed pool of threads: each chunk is computed into the worker's own buffer and handed to the
 * {@link OutputSink} (the sharded writer's positional writes); finally writes config, tokenizer, model card
 * and recipe and moves the finished directory into place. Tensors are processed one after the other (a
 * method's reduction pass must finish before its map pass), each on all threads.
 */
public final class MergeEngine {

    /** How to run: threads, chunk size (elements), kernel, shard size, progress display. */
    public record Options(int threads, int chunkElements, MergeKernel kernel, long maxShardBytes,
                          Progress.Mode progress, PrintStream err) {
        public static final int DEFAULT_CHUNK_ELEMENTS = 1 << 16;
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
            try (ShardedWriter writer = ShardedWriter.create(dir.staging(), layout);
                 ChunkRunner runner = new ChunkRunner(o.threads(), o.chunkElements());
                 Progress progress = new Progress(o.err(), o.progress(), plan.inputBytes(), plan.jobs().size())) {
                // an input truncated under the merge faults on its mapped pages: one line naming it (exit 1)
                MappedInputFault.guard(inputCheckpoints(plan), () -> {
                    writeTensors(plan, OutputSink.of(writer), runner, o.kernel(), progress);
                    return null;
                });
                writer.finish();
            }
            ModelFiles.copy(plan.configSource(), plan.tokenizerSource(), dir.staging(), plan.configDtype(),
                    plan.outputLayers(), plan.vocabularyRows());
            if (plan.vocabulary() != null) plan.vocabulary().writeFiles(dir.staging());
            // after the vocabulary's tokenizer_config.json, which would otherwise bring the source's template back
            if (plan.recipe() != null) ChatTemplates.apply(dir.staging(), plan.recipe().chatTemplate(), plan.inputPaths());
            card.write(dir.staging(), plan, out);
            dir.commit();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Summary(plan.jobs().size(), plan.inputBytes(), plan.outputBytes(), secs, MemoryStats.now());
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
        try (ChunkBuffers buffers = new ChunkBuffers((long) runner.chunkElements() * widest)) {
            writeTensors(plan, sink, runner, kernel, progress, buffers);
        }
    }

    private static void writeTensors(MergePlan plan, OutputSink sink, ChunkRunner runner, MergeKernel kernel,
                                     Progress progress, ChunkBuffers buffers) {
        boolean evictInputs = inputsExceedMemory(plan);
        for (TensorJob job : plan.jobs()) {
            progress.startTensor(job.name());
            long elements = job.elements();
            long nonFinite = 0;
            // a vocabulary tensor rebuilt onto the output vocabulary: its inputs live here until it is written
            Arena scratch = job.kind() == TensorJob.Kind.MERGE && plan.vocabulary() != null
                    && plan.vocabulary().remaps(job.name()) ? Arena.ofShared() : null;
            try {
                if (elements > 0) {
                    double bytesPerElement = (double) job.inputBytes() / elements;
                    ChunkOp op = job.kind() == TensorJob.Kind.COPY ? copyOp(job)
                            : plan.method().prepare(job.name(), job.params(), inputs(plan, job, scratch), kernel, runner);
                    nonFinite = writeChunks(job, op, sink, runner, kernel, progress, buffers, bytesPerElement);
                }
            } finally {
                if (scratch != null) scratch.close();
            }
            if (nonFinite > 0) warnNonFinite(job, nonFinite);
            releaseInputs(job, evictInputs);
            sink.tensorDone(job.name());
            progress.finishTensor();
        }
    }

    /** Runs {@code op} over every chunk of the job into the workers' buffers and on to the sink; returns the NaN/Inf count. */
    private static long writeChunks(TensorJob job, ChunkOp op, OutputSink sink, ChunkRunner runner, MergeKernel kernel,
                                    Progress progress, ChunkBuffers buffers, double bytesPerElement) {
        DType dtype = job.outDtype();
        int size = dtype.byteSize();
        List<ChunkBuffers.Worker> workers = runner.reduce(job.elements(), buffers::take, (w, start, count) -> {
            TensorView window = new TensorView(w.buffer().asSlice(0, (long) count * size), dtype, start);
            op.run(kernel, window, start, count);
            w.nonFinite += NonFinite.count(window);
            sink.write(job.name(), start * size, window.data());
            progress.add((long) (count * bytesPerElement));
        });
        long nonFinite = 0;
        for (ChunkBuffers.Worker w : workers) {
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
        for (StoredTensor m : job.models()) parts.add(inputCount(m));
        sb.append(String.join(", ", parts));
        io.mergestream.Warnings.warn(sb.toString());
    }

    private static String inputCount(StoredTensor t) {
        return t.shard().path() + " " + NonFinite.count(t.data(), t.info().dtype());
    }

    /** Every checkpoint the plan reads (a model may be the base and a fine-tune: listed once). */
    static List<Checkpoint> inputCheckpoints(MergePlan plan) {
        List<Checkpoint> all = new ArrayList<>();
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
        for (StoredTensor m : job.models()) m.doneReading(evictInputs);
    }

    /**
     * Whether to evict finished inputs from the page cache: only when inputs and output together exceed 60% of
     * physical memory. Below that, keeping them cached makes the next run over the same models faster.
     */
    static boolean inputsExceedMemory(MergePlan plan) {
        long total = ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        return plan.inputBytes() + plan.outputBytes() > 0.6 * total;
    }

    private static ChunkOp copyOp(TensorJob job) {
        TensorView in = new TensorView(job.source().data(), job.source().info().dtype());
        if (in.dtype() != job.outDtype()) {
            return (k, out, start, count) -> k.convert(in, out, start, count);
        }
        int size = in.dtype().byteSize();
        return (k, out, start, count) -> MemorySegment.copy(in.data(), start * size, out.data(), out.offsetOf(start),
                (long) count * size);
    }

    private static MergeInputs inputs(MergePlan plan, TensorJob job, Arena scratch) {
        long n = job.elements();
        VocabularyPlan v = scratch == null ? null : plan.vocabulary();
        TensorView base = job.base() == null ? null
                : v != null ? v.view(job.name(), v.baseParticipant(), scratch) : view(job.base(), n);
        TensorView[] models = new TensorView[job.models().size()];
        long[] valid = new long[models.length];
        for (int j = 0; j < models.length; j++) {
            StoredTensor m = job.models().get(j);
            models[j] = v != null ? v.view(job.name(), v.modelParticipant(j), scratch) : view(m, n);
            valid[j] = models[j].elements();
        }
        return new MergeInputs(base, models, valid, job.shape().clone());
    }

    /** The tensor's bytes, cut to at most {@code elements} elements (a model with more vocabulary rows). */
    private static TensorView view(StoredTensor t, long elements) {
        MemorySegment data = t.data();
        long bytes = Math.min(data.byteSize(), elements * t.info().dtype().byteSize());
        return new TensorView(data.asSlice(0, bytes), t.info().dtype());
    }
}
