package io.mergestream.engine;

import io.mergestream.format.ChatTemplates;
import io.mergestream.format.MappedPages;
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
import io.mergestream.plan.TensorJob;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a {@link MergePlan}: lays out the output shards, then streams every tensor through the kernels, chunk
 * by chunk on a fixed pool of threads, straight into the mapped output; finally writes config, tokenizer,
 * model card and recipe and moves the finished directory into place. Tensors are processed one after the
 * other (a method's reduction pass must finish before its map pass), each on all threads.
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
                writeTensors(plan, OutputTensors.of(writer), runner, o.kernel(), progress);
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

    /** Computes every job's output tensor into {@code outputs} (the writer's mapped shards, in a merge). */
    public static void writeTensors(MergePlan plan, OutputTensors outputs, ChunkRunner runner, MergeKernel kernel,
                                    Progress progress) {
        boolean evictInputs = inputsExceedMemory(plan);
        // computed inputs (LoRA products, remapped vocabularies, decoded F64/FP8) fill these per-thread buffers
        try (ChunkBuffers buffers = new ChunkBuffers()) {
            for (TensorJob job : plan.jobs()) {
                progress.startTensor(job.name());
                TensorView out = new TensorView(outputs.segment(job.name(), job.outputBytes()), job.outDtype());
                long elements = job.elements();
                if (elements > 0) {
                    double bytesPerElement = (double) job.inputBytes() / elements;
                    boolean copy = job.kind() == TensorJob.Kind.COPY;
                    // a merge's inputs, materialised for this tensor only when its method reads whole tensors
                    try (MergeInputs in = copy ? null : inputs(plan, job, out, buffers, runner)) {
                        ChunkOp op = copy ? copyOp(job, out, buffers)
                                : plan.method().prepare(job.name(), job.params(), in, kernel, runner);
                        runner.forEachChunk(elements, (start, count) -> {
                            op.run(kernel, start, count);
                            progress.add((long) (count * bytesPerElement));
                        });
                    }
                }
                releaseInputs(job, evictInputs);
                outputs.done(out.data());
                progress.finishTensor();
            }
        }
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
        long total = ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        return plan.inputBytes() + plan.outputBytes() > 0.6 * total;
    }

    /** A copy reads its source chunk by chunk, whatever the source (mapped: in place; computed: filled). */
    private static ChunkOp copyOp(TensorJob job, TensorView out, ChunkBuffers buffers) {
        TensorSource source = job.source();
        int size = out.dtype().byteSize();
        boolean convert = source.info().dtype() != out.dtype();
        return (k, start, count) -> {
            TensorView in = buffers.window(source, 0, start, count);
            if (convert) {
                k.convert(in, out, start, count);
            } else {
                MemorySegment.copy(in.data(), in.offsetOf(start), out.data(), out.offsetOf(start), (long) count * size);
            }
        };
    }

    /** The job's sources as the method reads them: whole tensors unless the method streams its inputs. */
    private static MergeInputs inputs(MergePlan plan, TensorJob job, TensorView out, ChunkBuffers buffers,
                                      ChunkRunner runner) {
        return new MergeInputs(job.base(), job.models().toArray(TensorSource[]::new), out, job.shape(), buffers,
                runner, !plan.method().streamsInputs(job.params()));
    }
}
