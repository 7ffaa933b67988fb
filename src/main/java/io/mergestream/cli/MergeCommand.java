package io.mergestream.cli;

import io.mergestream.Names;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.format.ModelFiles;
import io.mergestream.format.OutputDirectory;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.Planner;
import io.mergestream.plan.TensorJob;
import io.mergestream.recipe.Recipe;
import java.io.PrintWriter;
import java.nio.file.Files;
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
        MergeKernel kernel = this.kernel.kernel();
        Recipe recipe = Recipe.load(recipePath, strict);
        long s = seed.orElse(recipe.seed());
        try (MergePlan plan = Planner.plan(recipe, s)) {
            if (dryRun) {
                // the run's own output check, so that a dry run fails exactly when the run would
                OutputDirectory.check(output.path, force.force, plan.inputPaths());
                printPlan(spec.commandLine().getOut(), plan);
                return 0;
            }
            MergeEngine.Options options = new MergeEngine.Options(threads.count, chunkSize.elements, kernel,
                    shardSize.bytes, Terminal.progress(quiet.quiet), System.err);
            MergeEngine.Summary sum = MergeEngine.run(plan, output.path, force.force, options,
                    new ModelCard(Version.current()));
            printSummary(sum, plan, kernel, threads.count, output.path);
        }
        return 0;
    }

    /** The summary every run that writes a model prints on stderr (merge, dare). */
    static void printSummary(MergeEngine.Summary sum, MergePlan plan, MergeKernel kernel, int threads, Path out) {
        System.err.println(SummaryLine.of(String.format(Locale.ROOT, "merged %d tensors (%s, %s kernel, %d threads)",
                sum.tensors(), plan.method().name(), kernel.name(), threads), sum, out));
    }

    private static void printPlan(PrintWriter out, MergePlan plan) {
        out.printf(Locale.ROOT, "method   %s (seed %s)%n", plan.method().name(), Long.toUnsignedString(plan.seed()));
        if (plan.base() != null) out.printf(Locale.ROOT, "base     %s%n", Names.printable(plan.base().name()));
        plan.fineTunes().forEach(m -> out.printf(Locale.ROOT, "model    %s%n", Names.printable(m.name())));
        if (plan.vocabulary() != null) out.printf(Locale.ROOT, "vocab    %s%n", Names.printable(plan.vocabulary().describe()));
        Path config = plan.configSource().resolve(ModelFiles.CONFIG);
        out.printf(Locale.ROOT, "config   %s%n", Files.isRegularFile(config) ? Names.printable(config.toString())
                : "none (" + Names.printable(plan.configSource().toString()) + " has no " + ModelFiles.CONFIG
                + ", so neither will the output)");
        for (TensorJob j : plan.jobs()) {
            String action = j.kind() == TensorJob.Kind.COPY ? "copy " + j.source().info().dtype() + "->" + j.outDtype()
                    : plan.method().name() + " -> " + j.outDtype();
            out.printf(Locale.ROOT, "  %-60s %-22s %-18s read %s write %s%n", Names.printable(j.name()), action,
                    java.util.Arrays.toString(j.shape()), Bytes.human(j.inputBytes()), Bytes.human(j.outputBytes()));
        }
        out.printf(Locale.ROOT, "tensors  %d (%d merged, %d copied)%n", plan.jobs().size(), plan.mergedTensors(),
                plan.jobs().size() - plan.mergedTensors());
        out.printf(Locale.ROOT, "read     %s%nwrite    %s%n", Bytes.human(plan.inputBytes()), Bytes.human(plan.outputBytes()));
        out.flush();
    }
}
