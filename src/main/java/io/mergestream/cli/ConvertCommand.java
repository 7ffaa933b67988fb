package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.engine.MemoryStats;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.format.ShardSize;
import io.mergestream.kernel.Kernels;
import io.mergestream.plan.ConvertPlanner;
import io.mergestream.plan.MergePlan;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mergestream convert MODEL -o OUT}: any model mergestream reads, written as sharded safetensors. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes MODEL (safetensors, or a PyTorch .bin read without Python's unpickler) as sharded safetensors "
                + "with index, config and tokenizer files: every tensor copied byte for byte, streamed, atomic output."})
final class ConvertCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "Model directory, .safetensors file or PyTorch .bin file.")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "Output model directory.")
    Path out;

    @Option(names = "--out-shard-size", paramLabel = "SIZE", description = "Largest output shard (default 5GB; K/M/G suffixes).")
    String shardSize = "5GB";

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--force", description = "Replace a non-empty output directory.")
    boolean force;

    @Option(names = {"-q", "--quiet"}, description = "No progress output (the summary line is still printed).")
    boolean quiet;

    @Override
    public Integer call() {
        if (threads < 1) throw new MergestreamException("--threads must be at least 1");
        long maxShard = ShardSize.parse(shardSize);
        // a local path, else a Hugging Face id in the local cache, as every command that takes a model
        try (MergePlan plan = ConvertPlanner.plan(io.mergestream.format.ModelLocator.locate(model.toString(), "MODEL"))) {
            MergeEngine.Options options = new MergeEngine.Options(threads, MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS,
                    Kernels.byName("auto"), maxShard, Progress.detect(quiet), System.err);
            String name = model.toAbsolutePath().normalize().getFileName().toString();
            ModelCard card = new ModelCard(Version.current(), new ModelCard.Operation("Conversion of " + name,
                    "Every tensor of `" + name + "` copied unchanged (name, dtype, shape and bytes) into safetensors.",
                    "mergestream convert " + model + " -o " + out.getFileName()));
            MergeEngine.Summary sum = MergeEngine.run(plan, out, force, options, card);
            MemoryStats m = sum.memory();
            System.err.printf(Locale.ROOT, "mergestream: converted %d tensors into %s: read %s, wrote %s in %.2f s "
                            + "(%s/s in); peak RSS %d MB, peak heap %d MB%n", sum.tensors(), out,
                    Bytes.human(sum.bytesRead()), Bytes.human(sum.bytesWritten()), sum.seconds(),
                    Bytes.human(sum.inputBytesPerSecond()), m.peakRssBytes() >> 20, m.peakHeapBytes() >> 20);
        }
        return 0;
    }
}
