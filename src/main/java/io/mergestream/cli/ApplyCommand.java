package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.format.ShardSize;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.format.pack.PackModel;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.ApplyPlanner;
import io.mergestream.plan.MergePlan;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
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

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "Output model directory.")
    Path out;

    @Option(names = "--force", description = "Replace an earlier mergestream output in OUT (only the files it lists).")
    boolean force;

    @Option(names = {"-q", "--quiet"}, description = "No progress output (the summary line is still printed).")
    boolean quiet;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", description = "Largest output shard (default 5GB).")
    String shardSize = "5GB";

    @Option(names = "--kernel", paramLabel = "KIND", description = "auto (default), vector or scalar.")
    String kernelName = "auto";

    @Option(names = "--chunk-size", paramLabel = "ELEMENTS", hidden = true,
            description = "Elements per chunk (output is identical for any value).")
    int chunkElements = MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS;

    @Override
    public Integer call() {
        if (threads < 1) throw new MergestreamException("--threads must be at least 1");
        if (chunkElements < 1) throw new MergestreamException("--chunk-size must be at least 1");
        String rescale = rescaleName == null ? null : DareCommand.rescale(rescaleName, false).word();
        long maxShard = ShardSize.parse(shardSize);
        MergeKernel kernel = MergeCommand.kernel(kernelName);
        try (MergePlan plan = ApplyPlanner.plan(base, pack, rescale, kernel)) {
            PackHeader h = ((PackModel) plan.fineTunes().get(0).checkpoint()).header();
            MergeEngine.Options options = new MergeEngine.Options(threads, chunkElements, kernel, maxShard,
                    Progress.detect(quiet), System.err);
            String rule = rescale != null ? rescale : h.rescale();
            ModelCard.Operation op = new ModelCard.Operation("DARE of " + h.model() + " (from a delta pack)",
                    "Every tensor is `base + sparsify(model - base)` as `mergestream dare` computes it: " + h.strategy().word()
                            + " strategy, density " + h.density() + ", seed " + Long.toUnsignedString(h.seed())
                            + ", model ordinal " + h.ordinal() + ", rescale " + rule + ", read from the delta pack "
                            + pack.getFileName() + ".",
                    "mergestream apply --base " + base + " " + pack + (rescaleName == null ? "" : " --rescale " + rule)
                            + " -o " + out.getFileName());
            MergeEngine.Summary sum = MergeEngine.run(plan, out, force, options, new ModelCard(Version.current(), op));
            MergeCommand.printSummary(sum, plan, kernel, threads, out);
        }
        return 0;
    }
}
