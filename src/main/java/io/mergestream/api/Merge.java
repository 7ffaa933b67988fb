package io.mergestream.api;

import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.OutputDirectory;
import io.mergestream.format.OutputLayout;
import io.mergestream.format.ModelLocator;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.format.pack.PackModel;
import io.mergestream.method.TensorParams;
import io.mergestream.pack.Packer;
import io.mergestream.plan.ApplyPlanner;
import io.mergestream.plan.ConvertPlanner;
import io.mergestream.plan.DarePlanner;
import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.ModelInput;
import io.mergestream.plan.Planner;
import io.mergestream.plan.TensorJob;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.TensorInfo;
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
 * or a {@link TensorSink}; it is also the handle that cancels it. Besides recipes ({@link #of}), the operations
 * of the command line that write one model have the same handle: DARE of one fine-tune
 * ({@link #dare(DareRequest, MergeOptions)}, also written as a delta pack with {@link #writePack(Path, int)}),
 * a conversion to safetensors ({@link #convert(String, MergeOptions)}) and a delta pack applied to its base
 * ({@link #apply(String, Path, MergeOptions)}). The entry point of the library:
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

    private final Job job;
    private final MergeOptions options;
    private final AtomicBoolean cancelled = new AtomicBoolean();

    private Merge(Job job, MergeOptions options) {
        this.job = job;
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
        Objects.requireNonNull(recipe, "recipe");
        return new Merge(new Job() {
            @Override
            public MergePlan open(MergeOptions o, MergeKernel kernel) {
                Recipe r = Failures.recipe(() -> recipe.parse(o.strict()));
                return Planner.plan(r, o.seed().orElse(r.seed()));
            }

            @Override
            public ModelCard.Operation card(MergeOptions o, MergePlan plan, Path out) {
                return null;
            }
        }, options);
    }

    /**
     * DARE of one fine-tune, as {@code request} says, with the options' seed (0 when none is given). A directory
     * run writes the fine-tune's config and tokenizer files and a model card that says how to reproduce it;
     * {@link #writePack(Path, int)} writes the same result as a delta pack instead.
     *
     * @param request what to sparsify and how
     * @param options how to run it ({@link MergeOptions#strict()} does not apply: there is no recipe)
     * @return the merge, not yet planned
     */
    public static Merge dare(DareRequest request, MergeOptions options) {
        Objects.requireNonNull(request, "request");
        return new Merge(new DareJob(request), options);
    }

    /**
     * A model (a directory, a {@code .safetensors} file, a PyTorch {@code .bin} read without unpickling, or a Hugging
     * Face id in the local cache) converted to safetensors: every tensor copied byte for byte (name, dtype, shape),
     * sharded as the options say, with its config and tokenizer files and a model card.
     *
     * @param model   the model
     * @param options how to run it (the kernel and seed do not apply: nothing is computed)
     * @return the merge, not yet planned
     */
    public static Merge convert(String model, MergeOptions options) {
        Objects.requireNonNull(model, "model");
        Path path = Path.of(model);
        return new Merge(new Job() {
            @Override
            public MergePlan open(MergeOptions o, MergeKernel kernel) {
                // a local path, else a Hugging Face id in the local cache (named MODEL, as the command line does)
                return ConvertPlanner.plan(ModelLocator.locate(model, "MODEL"));
            }

            @Override
            public ModelCard.Operation card(MergeOptions o, MergePlan plan, Path out) {
                return ModelCard.Operation.convert(path, out);
            }
        }, options);
    }

    /**
     * A delta pack applied to its base: the DARE'd fine-tune the pack encodes, bit for bit what
     * {@link #dare(DareRequest, MergeOptions)} gives with the pack's settings and rescale rule; config and tokenizer
     * files come from the pack. Refused, naming the tensor, when {@code base} is not the base the pack was made from.
     *
     * @param base    the base the pack was made from
     * @param pack    the delta pack ({@link #writePack(Path, int)}, {@code mergestream pack})
     * @param options how to run it (the seed does not apply: the pack records its own)
     * @return the merge, not yet planned
     */
    public static Merge apply(String base, Path pack, MergeOptions options) {
        return apply(base, pack, null, options);
    }

    /**
     * As {@link #apply(String, Path, MergeOptions)}, with {@code rescale} instead of the rule the pack records (a pack
     * holds what every rule needs).
     *
     * @param base    the base the pack was made from
     * @param pack    the delta pack
     * @param rescale what kept deltas become
     * @param options how to run it
     * @return the merge, not yet planned
     */
    public static Merge apply(String base, Path pack, DareRequest.Rescale rescale, MergeOptions options) {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(pack, "pack");
        Path basePath = Path.of(base);
        String rule = rescale == null ? null : DareJob.rescale(rescale).word();
        return new Merge(new Job() {
            @Override
            public MergePlan open(MergeOptions o, MergeKernel kernel) {
                return ApplyPlanner.plan(basePath, pack, rule, kernel);
            }

            @Override
            public ModelCard.Operation card(MergeOptions o, MergePlan plan, Path out) {
                PackHeader h = ((PackModel) plan.fineTunes().getFirst().checkpoint()).header();
                return ModelCard.Operation.apply(basePath, pack, h, rule, out);
            }
        }, options);
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
            try (MergePlan p = open(kernel())) {
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
            try (MergePlan p = open(kernel())) {
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
            try (MergePlan p = open(kernel)) {
                options.listener().started(describe(p));
                ModelCard card = new ModelCard(ModelCard.currentVersion(), job.card(options, p, outputDirectory));
                MergeEngine.Summary s = MergeEngine.run(p, outputDirectory, options.replaceOutput(),
                        engineOptions(kernel), card);
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
            try (MergePlan opened = open(kernel)) {
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
     * Writes the result of a {@link #dare(DareRequest, MergeOptions) DARE of the delta} as a delta pack instead of a
     * model (docs/mspack.md): the kept values only, which {@link #apply(String, Path, MergeOptions)} over the same base
     * turns back into this merge's output, or a recipe merges as {@code model: FILE}. The file is written whole or not
     * at all (a temporary sibling renamed into place); an existing file is replaced only when it is a pack. The file
     * is the same for any thread count.
     *
     * @param file    the pack to write
     * @param ordinal the DARE keep-mask's model ordinal (0 for this merge's output; a fine-tune's position among a
     *                recipe's models for packs merged with {@code dare_linear} or {@code dare_ties})
     * @return what was written
     * @throws IllegalStateException    when this merge is not a DARE
     * @throws IllegalArgumentException when {@code ordinal} is negative
     * @throws BadInputException        when a model, the request or {@code file} is wrong (DARE of the weights has no
     *                                  delta to pack)
     * @throws MergeIOException         when a file cannot be read or written
     * @throws MergeCancelledException  when cancelled or interrupted
     */
    public PackResult writePack(Path file, int ordinal) {
        return writePack(file, ordinal, PackHeader.DEFAULT_BLOCK_ELEMENTS);
    }

    /**
     * As {@link #writePack(Path, int)}, in blocks of {@code blockElements} elements (the unit of compression,
     * checksums and parallel work; the default suits any model, smaller blocks exercise more of them in tests).
     *
     * @param file          the pack to write
     * @param ordinal       the DARE keep-mask's model ordinal
     * @param blockElements elements per block, from 1 to 2^24
     * @return what was written
     */
    public PackResult writePack(Path file, int ordinal, int blockElements) {
        Objects.requireNonNull(file, "file");
        if (!(job instanceof DareJob dare)) throw new IllegalStateException("only a DARE can be written as a delta pack");
        if (ordinal < 0) throw new IllegalArgumentException("ordinal must be at least 0, not " + ordinal);
        if (blockElements < 1 || blockElements > (1 << 24)) {
            throw new IllegalArgumentException("block elements must be in [1, 2^24], not " + blockElements);
        }
        return call(() -> {
            MergeKernel kernel = kernel();
            Packer.checkOutput(file, dare.inputs());
            try (MergePlan p = open(kernel)) {
                options.listener().started(describe(p));
                Packer.Summary s = Packer.pack(p, new Packer.Request(dare.request(options), ordinal, file,
                        options.threads(), blockElements), kernel, events(), cancelled::get);
                return new PackResult(s.deltas(), s.wholes(), s.modelBytes(), s.packBytes(), s.kept(), s.keptBytes(),
                        s.bytesRead(), s.seconds());
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

    private MergePlan open(MergeKernel kernel) {
        return job.open(options, kernel);
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
        return new MergeEngine.Options(options.threads(), options.chunkElements(), kernel, options.shardBytes(),
                Progress.Mode.QUIET, Progress.NO_DISPLAY, events(), cancelled::get);
    }

    /** The listener's progress events as the engine and the packer report them. */
    private Progress.Events events() {
        MergeListener l = options.listener();
        return new Progress.Events() {
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

    /** What a merge computes: the plan it opens, and for a run without a recipe what its model card says. */
    private interface Job {
        /** The checked plan, whose inputs the caller closes. */
        MergePlan open(MergeOptions options, MergeKernel kernel);

        /** The card's account of a recipe-less run into {@code out}; null for a recipe (the card shows the recipe). */
        ModelCard.Operation card(MergeOptions options, MergePlan plan, Path out);
    }

    /** {@link #dare(DareRequest, MergeOptions)}: one fine-tune, planned as {@code mergestream dare} plans it. */
    private record DareJob(DareRequest dare) implements Job {

        @Override
        public MergePlan open(MergeOptions options, MergeKernel kernel) {
            return DarePlanner.plan(request(options));
        }

        @Override
        public ModelCard.Operation card(MergeOptions o, MergePlan plan, Path out) {
            return ModelCard.Operation.dare(request(o), out);
        }

        /** The planner's request, with the options' seed (0 without one, as the command line's default). */
        DarePlanner.Request request(MergeOptions options) {
            long seed = options.seed().orElse(0);
            return new DarePlanner.Request(dare.base().map(Path::of).orElse(null), Path.of(dare.model()),
                    dare.density(), dare.strategy() == DareRequest.Strategy.RANDOM ? DarePlanner.Strategy.RANDOM
                            : DarePlanner.Strategy.MAGNITUDE, rescale(dare.rescale()), dare.exclude(), seed,
                    dare.target() == DareRequest.Target.DELTA ? DarePlanner.Target.DELTA : DarePlanner.Target.WEIGHTS);
        }

        /** The files a pack must not overwrite. */
        List<Path> inputs() {
            List<Path> in = new ArrayList<>();
            dare.base().map(Path::of).ifPresent(in::add);
            in.add(Path.of(dare.model()));
            return in;
        }

        static TensorParams.Rescale rescale(DareRequest.Rescale r) {
            return switch (r) {
                case INVERSE -> TensorParams.Rescale.INVERSE;
                case L1 -> TensorParams.Rescale.L1;
                case NONE -> TensorParams.Rescale.NONE;
            };
        }
    }
}
