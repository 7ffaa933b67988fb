package io.mergestream.cli;

import io.mergestream.Names;
import io.mergestream.engine.MemoryStats;
import io.mergestream.engine.MergeEngine;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.MergeRecipe;
import io.mergestream.api.Plan;
import io.mergestream.api.RunResult;
import io.mergestream.engine.Progress;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.ShardSize;
import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.MergePlan;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mergestream merge RECIPE -o OUT}: runs a mergekit recipe as a stream. */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = "Merges models as a mergekit YAML recipe says, streaming every tensor into OUT.")
final class MergeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "RECIPE", description = "mergekit YAML recipe.")
    Path recipePath;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "Output model directory.")
    Path out;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--seed", paramLabel = "S", description = "DARE mask seed (overrides the recipe's `seed`, default 0).")
    Long seed;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", description = "Largest output shard (default 5GB; K/M/G suffixes).")
    String shardSize = "5GB";

    @Option(names = "--dry-run", description = "Validate and print the plan; write nothing.")
    boolean dryRun;

    @Option(names = "--force", description = "Replace an earlier mergestream output in OUT: only the files its "
            + ".mergestream-output.json lists; other files stay. Any other non-empty OUT is refused.")
    boolean force;

    @Option(names = "--strict", description = "Refuse what mergekit ignores (unknown keys, parameters the method does not use) instead of warning.")
    boolean strict;

    @Option(names = {"-q", "--quiet"}, description = "No progress output (the summary line is still printed).")
    boolean quiet;

    @Option(names = "--kernel", paramLabel = "KIND", description = "auto (default), vector, scalar, or native (the C yardstick, when built).")
    String kernelName = "auto";

    @Option(names = "--chunk-size", paramLabel = "ELEMENTS", hidden = true,
            description = "Elements per chunk (output is identical for any value).")
    int chunkElements = MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (threads < 1) throw new io.mergestream.MergestreamException("--threads must be at least 1");
        if (chunkElements < 1) throw new io.mergestream.MergestreamException("--chunk-size must be at least 1");
        long maxShard = ShardSize.parse(shardSize);
        MergeKernel kernel = kernel(kernelName);
        MergeRecipe recipe = MergeRecipe.fromFile(recipePath);
        try (CliListener listener = new CliListener(Progress.detect(quiet))) {
            MergeOptions.Builder options = MergeOptions.builder().threads(threads).chunkElements(chunkElements)
                    .kernel(MergeOptions.Kernel.valueOf(kernelName.toUpperCase(Locale.ROOT))).shardBytes(maxShard)
                    .strict(strict).replaceOutput(force).listener(listener);
            if (seed != null) options.seed(seed);
            Merge merge = Merge.of(recipe, options.build());
            if (dryRun) {
                // the run's own output check, so that a dry run fails exactly when the run would
                printPlan(spec.commandLine().getOut(), merge.plan(out));
                return 0;
            }
            RunResult result = merge.run(out);
            listener.close();
            printSummary(result, kernel, threads, out);
        }
        return 0;
    }

    /** The kernel {@code --kernel} names; a name that is none, or one this JVM cannot run, is bad input. */
    static MergeKernel kernel(String name) {
        try {
            return Kernels.byName(name);
        } catch (IllegalArgumentException e) {
            throw new io.mergestream.MergestreamException("--kernel " + name + ": " + e.getMessage());
        }
    }

    /** The summary line every run that writes a model prints on stderr (merge, dare). */
    static void printSummary(MergeEngine.Summary sum, MergePlan plan, MergeKernel kernel, int threads, Path out) {
        MemoryStats m = sum.memory();
        printSummary(new RunResult(plan.method().name(), sum.tensors(), sum.bytesRead(), sum.bytesWritten(),
                sum.seconds(), kernel.name(), m.peakRssBytes(), m.peakHeapBytes()), kernel, threads, out);
    }

    private static void printSummary(RunResult sum, MergeKernel kernel, int threads, Path out) {
        System.err.printf(Locale.ROOT, "mergestream: merged %d tensors (%s, %s kernel, %d threads) into %s: "
                        + "read %s, wrote %s in %.2f s (%s/s in); peak RSS %d MB, peak heap %d MB%n",
                sum.tensors(), sum.method(), kernel.name(), threads, Names.printable(out), Bytes.human(sum.bytesRead()),
                Bytes.human(sum.bytesWritten()), sum.seconds(),
                Bytes.human(sum.inputBytesPerSecond()), sum.peakRssBytes() >> 20,
                sum.peakHeapBytes() >> 20);
    }

    private static void printPlan(PrintWriter out, Plan plan) {
        out.printf(Locale.ROOT, "method   %s (seed %s)%n", plan.method(), Long.toUnsignedString(plan.seed()));
        plan.base().ifPresent(b -> out.printf(Locale.ROOT, "base     %s%n", Names.printable(b)));
        plan.models().forEach(m -> out.printf(Locale.ROOT, "model    %s%n", Names.printable(m)));
        plan.vocabulary().ifPresent(v -> out.printf(Locale.ROOT, "vocab    %s%n", Names.printable(v)));
        out.printf(Locale.ROOT, "config   %s%n", plan.configFile().map(c -> Names.printable(c.toString()))
                .orElseGet(() -> "none (" + Names.printable(plan.configSource().toString()) + " has no "
                        + ModelFiles.CONFIG + ", so neither will the output)"));
        for (Plan.Tensor j : plan.tensors()) {
            String action = j.merged() ? plan.method() + " -> " + j.outputDtype()
                    : "copy " + j.inputDtype() + "->" + j.outputDtype();
            out.printf(Locale.ROOT, "  %-60s %-22s %-18s read %s write %s%n", Names.printable(j.name()), action,
                    java.util.Arrays.toString(j.shape()), Bytes.human(j.inputBytes()), Bytes.human(j.outputBytes()));
        }
        out.printf(Locale.ROOT, "tensors  %d (%d merged, %d copied)%n", plan.tensors().size(), plan.mergedTensors(),
                plan.tensors().size() - plan.mergedTensors());
        out.printf(Locale.ROOT, "read     %s%nwrite    %s%n", Bytes.human(plan.inputBytes()), Bytes.human(plan.outputBytes()));
        out.flush();
    }
}
