package io.mergestream.cli;

import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.format.pack.PackModel;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.ApplyPlanner;
import io.mergestream.plan.MergePlan;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mergestream apply}: base + delta pack, the DARE'd model, through the merge engine. */
@Command(name = "apply", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes base + pack: the DARE'd fine-tune the pack encodes, byte for byte what `mergestream dare`"
                + " writes with the pack's options, streamed and atomic; config and tokenizer files come from the pack.",
                "Refused, naming the tensor, when BASE is not the base the pack was made from."})
final class ApplyCommand implements Callable<Integer> {

    @Option(names = "--base", required = true, paramLabel = "B", description = "The base the pack was made from.")
    Path base;

    @Parameters(index = "0", paramLabel = "FT.mspack", description = "The delta pack.")
    Path pack;

    @Option(names = "--rescale", paramLabel = "inverse|l1|none",
            description = "What kept deltas become (default: the rule the pack records).")
    String rescaleName;

    @Mixin
    SharedOptions.Threads threads;

    @Mixin
    SharedOptions.Output output;

    @Mixin
    SharedOptions.Force force;

    @Mixin
    SharedOptions.Quiet quiet;

    @Mixin
    SharedOptions.ShardSize shardSize;

    @Mixin
    SharedOptions.Kernel kernel;

    @Mixin
    SharedOptions.ChunkSize chunkSize;

    @Override
    public Integer call() {
        String rescale = rescaleName == null ? null : DareCommand.rescale(rescaleName, false).word();
        MergeKernel kernel = this.kernel.kernel();
        Path out = output.path;
        try (MergePlan plan = ApplyPlanner.plan(base, pack, rescale, kernel)) {
            PackHeader h = ((PackModel) plan.fineTunes().get(0).checkpoint()).header();
            MergeEngine.Options options = new MergeEngine.Options(threads.count, chunkSize.elements, kernel,
                    shardSize.bytes, Terminal.progress(quiet.quiet), System.err);
            String rule = rescale != null ? rescale : h.rescale();
            ModelCard.Operation op = new ModelCard.Operation("DARE of " + h.model() + " (from a delta pack)",
                    "Every tensor is `base + sparsify(model - base)` as `mergestream dare` computes it: " + h.strategy().word()
                            + " strategy, density " + h.density() + ", seed " + Long.toUnsignedString(h.seed())
                            + ", model ordinal " + h.ordinal() + ", rescale " + rule + ", read from the delta pack "
                            + pack.getFileName() + ".",
                    "mergestream apply --base " + base + " " + pack + (rescaleName == null ? "" : " --rescale " + rule)
                            + " -o " + out.getFileName());
            MergeEngine.Summary sum = MergeEngine.run(plan, out, force.force, options, new ModelCard(Version.current(), op));
            MergeCommand.printSummary(sum, plan, kernel, threads.count, out);
        }
        return 0;
    }
}
