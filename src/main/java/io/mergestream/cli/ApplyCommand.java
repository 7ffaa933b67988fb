package io.mergestream.cli;

import io.mergestream.api.DareRequest;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.RunResult;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mergestream apply}: base + delta pack, the DARE'd model, through the library's {@link Merge#apply}. */
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
            converter = SharedOptions.RescaleWords.class, completionCandidates = SharedOptions.RescaleWords.class,
            description = "What kept deltas become (default: the rule the pack records).")
    DareRequest.Rescale rescale;

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
        MergeOptions.Builder options = SharedOptions.outputRun(threads, chunkSize, kernel, shardSize, force);
        RunResult r = CliListener.showing(quiet.quiet, options, o -> (rescale == null
                ? Merge.apply(base.toString(), pack, o) : Merge.apply(base.toString(), pack, rescale, o)).run(output.path));
        MergeCommand.printSummary(r, threads.count, output.path);
        return 0;
    }
}
