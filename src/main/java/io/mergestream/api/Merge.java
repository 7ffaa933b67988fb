package io.mergestream.api;

import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.OutputDirectory;
import io.mergestream.format.OutputLayout;
import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.ModelInput;
import io.mergestream.plan.Planner;
import io.mergestream.plan.TensorJob;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.TensorInfo;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * One merge: a recipe with its options, which can be planned (checked, nothing written) and run into a directory
 * or a {@link TensorSink}; it is also the handle that cancels it. The entry point of the library:
 *
 * <pre>{@code
 * MergeRecipe recipe = MergeRecipe.fromFile(Path.of("recipe.yml"));
 * Merge merge = Merge.of(recipe, MergeOptions.builder().threads(4).build());
 * Plan plan = merge.plan();                   // every check the run makes; writes nothing
 * RunResult result = merge.run(Path.of("out")); // atomic: out appears complete, or not at all
 * }</pre>
 *
 * <p>Every call plans afresh (opening and checking the inputs, then closing them), so a {@code Merge} holds no open
 * file between calls and may be run again. Failures are typed ({@link MergeException}'s subclasses), with the
 * one-line messages of the command line. Warnings and progress go to the options' {@link MergeListener}; the
 * library itself writes nothing to stdout or stderr.
 *
 * <p>{@link #cancel()}, from any thread (a listener's too), stops the run in progress within one chunk per worker
 * thread and every later run of this merge; an interrupt of the thread running it does the same for that run.
 * Either way the run throws {@link MergeCancelledException} after every worker has stopped, with the output's
 * staging directory removed.
 */
public final class Merge {

    private static final PrintStream NOWHERE = new PrintStream(OutputStream.nullOutputStream(), false, java.nio.charset.StandardCharsets.UTF_8);

    private final MergeRecipe recipe;
    private final MergeOptions options;
    private final AtomicBoolean cancelled = new AtomicBoolean();

    private Merge(MergeRecipe recipe, MergeOptions options) {
        this.recipe = Objects.requireNonNull(recipe, "recipe");
        this.options = Objects.requireNonNull(options, "options");
    }

    /**
     * A merge of {@code recipe} run as {@code options} say.
     *
     * @param recipe  what to merge
     * @param options how to run it
     * @return the merge, not yet planned
     */
    public static Merge of(MergeRecipe recipe, MergeOptions options) {
        return new Merge(recipe, options);
    }

    /**
     * Plans the merge as a run would, and writes nothing: the recipe with the options' strictness, every checkpoint
     * (headers, shapes, dtypes, names), the parameters per tensor, the kernel.
     *
     * @return the per-tensor plan
     * @throws BadInputException when the recipe, a checkpoint or an option is wrong
     * @throws MergeIOException when an input cannot be read
     */
    public Plan plan() {
        return call(() -> {
            kernel();
            try (MergePlan p = open()) {
                return describe(p);
            }
        });
    }

    /**
     * As {@link #plan()}, also checking {@code outputDirectory} as {@link #run(Path)} would (new or empty, or an
     * earlier mergestream output with {@link MergeOptions.Builder#replaceOutput(boolean)}; never an input or
     * near one), without creating or locking it.
     *
     * @param outputDirectory the directory a run would write
     * @return the per-tensor plan
     * @throws BadInputException when the recipe, a checkpoint, an option or the output directory is wrong
     * @throws MergeIOException when an input cannot be read
     */
    public Plan plan(Path outputDirectory) {
        Objects.requireNonNull(outputDirectory, "outputDirectory");
        return call(() -> {
            kernel();
            try (MergePlan p = open()) {
                OutputDirectory.check(outputDirectory, options.replaceOutput(), p.inputPaths());
                return describe(p);
            }
        });
    }

    /**
     * Merges into {@code outputDirectory}: sharded safetensors with their index, config, tokenizer, model card and
     * recipe, as the command line writes them. The directory appears complete or not at all: everything is
     * written into a hidden sibling that is moved into place at the end, and removed on any failure.
     *
     * @param outputDirectory a new or empty directory (or an earlier mergestream output, see
     *                        {@link MergeOptions.Builder#replaceOutput(boolean)})
     * @return what the run did
     * @throws BadInputException        when the recipe, a checkpoint, an option or the output directory is wrong
     * @throws MergeIOException         when a file cannot be read or written
     * @throws MergeCancelledException  when cancelled or interrupted
     */
    public RunResult run(Path outputDirectory) {
        Objects.requireNonNull(outputDirectory, "outputDirectory");
        return call(() -> {
            MergeKernel kernel = kernel();
            try (MergePlan p = open()) {
                options.listener().started(describe(p));
                MergeEngine.Summary s = MergeEngine.run(p, outputDirectory, options.replaceOutput(),
                        engineOptions(kernel), new ModelCard(ModelCard.currentVersion()));
                return result(p, s, kernel);
            }
        });
    }

    /**
     * Merges into {@code sink}: each finished output tensor is handed to it (no files are written). Tensors
     * arrive in the order {@link TensorSink#begin} lists; each one's bytes are assembled in a buffer of the largest
     * tensor's size, freed when the run ends.
     *
     * @param sink where the tensors go: a {@link SafetensorsStream}, an {@link InMemoryModel}, or your own
     * @return what the run did
     * @throws BadInputException        when the recipe, a checkpoint or an option is wrong
     * @throws MergeIOException         when an input cannot be read or the sink fails with an I/O error
     * @throws MergeCancelledException  when cancelled or interrupted
     */
    public RunResult run(TensorSink sink) {
        Objects.requireNonNull(sink, "sink");
        return call(() -> {
            MergeKernel kernel = kernel();
            try (MergePlan opened = open()) {
                MergePlan p = inSingleFileOrder(opened);
                options.listener().started(describe(p));
                List<OutputTensor> announced = new ArrayList<>();
                for (TensorJob j : p.jobs()) announced.add(TensorAssembly.tensor(j, MemorySegment.NULL));
                sink.begin(announced);
                MergeEngine.Summary s;
                try (TensorAssembly assembly = new TensorAssembly(p.jobs(), sink)) {
                    s = MergeEngine.run(p, assembly, engineOptions(kernel));
                }
                sink.end();
                return result(p, s, kernel);
            }
        });
    }

    /**
     * Cancels the run in progress (it stops within one chunk per worker thread and throws
     * {@link MergeCancelledException}) and every later call of this merge. Safe from any thread, any number of
     * times.
     */
    public void cancel() {
        cancelled.set(true);
    }

    /**
     * Whether {@link #cancel()} was called.
     *
     * @return whether {@link #cancel()} was called
     */
    public boolean isCancelled() {
        return cancelled.get();
    }

    // ---- internals ------------------------------------------------------------------------------------------

    /** Runs {@code body} with this merge's listener receiving warnings, and the API's exception types. */
    private <T> T call(Supplier<T> body) {
        if (cancelled.get()) throw new MergeCancelledException("the merge was cancelled", null);
        MergeListener l = options.listener();
        Warnings.Listener warnings = new Warnings.Listener() {
            @Override
            public void warning(String message) {
                l.warning(message);
            }

            @Override
            public void note(String message) {
                l.notice(message);
            }
        };
        return Failures.run(() -> Warnings.during(warnings, body::get), cancelled::get);
    }

    private MergePlan open() {
        Recipe r = Failures.recipe(() -> recipe.parse(options.strict()));
        long seed = options.seed().orElse(r.seed());
        return Planner.plan(r, seed);
    }

    private MergeKernel kernel() {
        String name = options.kernel().name().toLowerCase(Locale.ROOT);
        try {
            return Kernels.byName(name);
        } catch (IllegalArgumentException e) {
            throw new MergestreamException("kernel " + name + ": " + e.getMessage());
        }
    }

    private MergeEngine.Options engineOptions(MergeKernel kernel) {
        MergeListener l = options.listener();
        Progress.Events events = new Progress.Events() {
            @Override
            public void tensorStarted(String name, int index, int count) {
                l.tensorStarted(name, index, count);
            }

            @Override
            public void chunkDone(String tensor, long done, long total) {
                l.chunkFinished(tensor, done, total);
            }

            @Override
            public void tensorFinished(String name, int index, int count) {
                l.tensorFinished(name, index, count);
            }
        };
        return new MergeEngine.Options(options.threads(), options.chunkElements(), kernel, options.shardBytes(),
                Progress.Mode.QUIET, NOWHERE, events, cancelled::get);
    }

    /** The plan with its jobs in the order of their data in one safetensors file (a stream writes them so). */
    private static MergePlan inSingleFileOrder(MergePlan p) {
        Map<String, TensorJob> byName = new HashMap<>();
        for (TensorJob j : p.jobs()) byName.put(j.name(), j);
        OutputLayout layout = MergeEngine.singleFileLayout(p);
        List<TensorJob> ordered = new ArrayList<>();
        for (TensorInfo t : layout.shards().getFirst().tensors()) ordered.add(byName.get(t.name()));
        return new MergePlan(p.recipe(), p.method(), p.seed(), p.base(), p.fineTunes(), ordered, p.configDtype(),
                p.configSource(), p.tokenizerSource(), p.outputLayers(), p.vocabulary());
    }

    private static RunResult result(MergePlan p, MergeEngine.Summary s, MergeKernel kernel) {
        return new RunResult(p.method().name(), s.tensors(), s.bytesRead(), s.bytesWritten(), s.seconds(),
                kernel.name(), s.memory().peakRssBytes(), s.memory().peakHeapBytes());
    }

    private static Plan describe(MergePlan p) {
        List<Plan.Tensor> tensors = new ArrayList<>();
        for (TensorJob j : p.jobs()) {
            boolean merged = j.kind() == TensorJob.Kind.MERGE;
            String in = merged ? j.outDtype().headerName() : j.source().info().dtype().headerName();
            tensors.add(new Plan.Tensor(j.name(), merged, in, j.outDtype().headerName(), j.shape(), j.inputBytes(),
                    j.outputBytes()));
        }
        Path config = p.configSource() == null ? null : p.configSource().resolve(ModelFiles.CONFIG);
        return new Plan(p.method().name(), p.seed(), Optional.ofNullable(p.base()).map(ModelInput::name),
                p.fineTunes().stream().map(ModelInput::name).toList(),
                Optional.ofNullable(p.vocabulary()).map(v -> v.describe()),
                Optional.ofNullable(config).filter(Files::isRegularFile), p.configSource(), tensors);
    }
}
