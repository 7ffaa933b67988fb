package io.mergestream.cli;

import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.RunResult;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mergestream convert MODEL -o OUT}: any model mergestream reads, written as sharded safetensors. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes MODEL (safetensors, or a PyTorch .bin read without Python's unpickler) as sharded safetensors "
                + "with index, config and tokenizer files: every tensor copied byte for byte, streamed, atomic output."})
final class ConvertCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "Model directory, .safetensors file or PyTorch .bin file.")
    Path model;

    @Mixin
    SharedOptions.Output output;

    @Mixin
    SharedOptions.ShardSize shardSize;

    @Mixin
    SharedOptions.Threads threads;

    @Mixin
    SharedOptions.Force force;

    @Mixin
    SharedOptions.Quiet quiet;

    @Override
    public Integer call() {
        MergeOptions.Builder options = MergeOptions.builder().threads(threads.count).shardBytes(shardSize.bytes)
                .replaceOutput(force.force);
        RunResult r = CliListener.showing(quiet.quiet, options, o -> Merge.convert(model.toString(), o).run(output.path));
        System.err.println(SummaryLine.of(String.format(Locale.ROOT, "converted %d tensors (%d threads)",
                r.tensors(), threads.count), r, output.path));
        return 0;
    }
}
