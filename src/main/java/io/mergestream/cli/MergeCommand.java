package io.mergestream.cli;

import io.mergestream.Names;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.MergeRecipe;
import io.mergestream.api.Plan;
import io.mergestream.api.RunResult;
import io.mergestream.format.ModelFiles;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Mixin
    SharedOptions.Output output;

    @Mixin
    SharedOptions.Threads threads;

    @Mixin
    SharedOptions.Seed seed;

    @Mixin
    SharedOptions.ShardSize shardSize;

    @Option(names = "--dry-run", description = "Validate and print the plan; write nothing.")
    boolean dryRun;

    @Mixin
    SharedOptions.Force force;

    @Option(names = "--strict", description = "Refuse what mergekit ignores (unknown keys, parameters the method does not use) instead of warning.")
    boolean strict;

    @Mixin
    SharedOptions.Quiet quiet;

    @Mixin
    SharedOptions.Kernel kernel;

    @Mixin
    SharedOptions.ChunkSize chunkSize;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        // the API resolves the kernel (and says once why it is not the one asked for); the summary names what ran
        MergeRecipe recipe = MergeRecipe.fromFile(recipePath);
        MergeOptions.Builder options = SharedOptions.outputRun(threads, chunkSize, kernel, shardSize, force)
                .strict(strict);
        if (seed.value != null) options.seed(seed.value);
        if (dryRun) {
            // the run's own output check, so that a dry run fails exactly when the run would
            printPlan(spec.commandLine().getOut(),
                    CliListener.showing(quiet.quiet, options, o -> Merge.of(recipe, o).plan(output.path)));
            return 0;
        }
        RunResult result = CliListener.showing(quiet.quiet, options, o -> Merge.of(recipe, o).run(output.path));
        printSummary(result, threads.count, output.path);
        return 0;
    }

    /** The summary every run that writes a model prints on stderr (merge, dare, apply). */
    static void printSummary(RunResult r, int threads, Path out) {
        System.err.println(SummaryLine.of(String.format(Locale.ROOT, "merged %d tensors (%s, %s kernel, %d threads)",
                r.tensors(), r.method(), r.kernel(), threads), r, out));
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
