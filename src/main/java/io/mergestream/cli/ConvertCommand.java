package io.mergestream.cli;

import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.kernel.Kernels;
import io.mergestream.plan.ConvertPlanner;
import io.mergestream.plan.MergePlan;
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
        // a local path, else a Hugging Face id in the local cache, as every command that takes a model
        try (MergePlan plan = ConvertPlanner.plan(io.mergestream.format.ModelLocator.locate(model.toString(), "MODEL"))) {
            MergeEngine.Options options = new MergeEngine.Options(threads.count, MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS,
                    Kernels.byName("auto"), shardSize.bytes, Terminal.progress(quiet.quiet), System.err);
            String name = model.toAbsolutePath().normalize().getFileName().toString();
            ModelCard card = new ModelCard(Version.current(), new ModelCard.Operation("Conversion of " + name,
                    "Every tensor of `" + name + "` copied unchanged (name, dtype, shape and bytes) into safetensors.",
                    "mergestream convert " + model + " -o " + output.path.getFileName()));
            MergeEngine.Summary sum = MergeEngine.run(plan, output.path, force.force, options, card);
            System.err.println(SummaryLine.of(String.format(Locale.ROOT, "converted %d tensors (%d threads)",
                    sum.tensors(), threads.count), sum, output.path));
        }
        return 0;
    }
}
