package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.api.DareRequest;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.RunResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mergestream dare}: base + DARE(model - base) for one fine-tune, through the library's {@link Merge#dare}. */
@Command(name = "dare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes base + DARE(model - base): the DARE paper's drop-and-rescale on one fine-tune, "
                + "streamed like a merge (same engine, chunks, threads, atomic output, model card).",
                "random: drops each delta element with probability P by the DARE keep-mask (docs/dare-mask.md, "
                        + "model ordinal 0); magnitude: keeps the floor(density*n) largest |delta| of each tensor "
                        + "(ties to the lowest index). Kept deltas are divided by the density (--rescale inverse, "
                        + "the paper's rule), scaled so each tensor keeps its delta's L1 norm (--rescale l1, "
                        + "mergekit's rescale: true) or kept as they are (--rescale none).",
                "Config and tokenizer files are copied from the fine-tune."})
final class DareCommand implements Callable<Integer> {

    @Option(names = "--base", paramLabel = "B", description = "Base model directory (required unless --target weights).")
    Path base;

    @Option(names = "--model", required = true, paramLabel = "M", description = "Fine-tuned model directory.")
    Path model;

    @Mixin
    SharedOptions.Density density;

    @Option(names = "--strategy", paramLabel = "random|magnitude", defaultValue = "random",
            converter = SharedOptions.StrategyWords.class, completionCandidates = SharedOptions.StrategyWords.class,
            description = "random (DARE, default) or magnitude (drop the smallest |delta| of each tensor).")
    DareRequest.Strategy strategy;

    @Option(names = "--rescale", paramLabel = "inverse|l1|none",
            converter = SharedOptions.RescaleWords.class, completionCandidates = SharedOptions.RescaleWords.class,
            description = "What kept deltas become: inverse (default: divided by the density, as in the DARE paper), "
                    + "l1 (scaled so each tensor's kept delta has the L1 norm of the whole delta, mergekit's "
                    + "rescale: true) or none.")
    DareRequest.Rescale rescale;

    @Option(names = "--no-rescale", description = "Same as --rescale none.")
    boolean noRescale;

    @Option(names = "--exclude", paramLabel = "REGEX", converter = SharedOptions.RegexConverter.class,
            description = {"Tensors whose name starts with a match stay the FINE-TUNE's own (copied from M unchanged), "
                    + "e.g. 'lm_head\\.' or 'classifier\\.'. Repeatable.",
                    "Note: a recipe's exclude: takes the BASE's tensor instead."})
    List<Pattern> exclude = new ArrayList<>();

    @Option(names = "--target", paramLabel = "delta|weights", defaultValue = "delta",
            converter = SharedOptions.TargetWords.class, completionCandidates = SharedOptions.TargetWords.class,
            description = {"delta (default): drop delta elements, the DARE paper's operation; weights: drop the fine-tuned"
                    + " parameters themselves (no base), with the same mask and rescale rules: the paper's contrast."})
    DareRequest.Target target;

    @Mixin
    SharedOptions.Seed seed;

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
        double rho = density.value();
        if (target == DareRequest.Target.DELTA && base == null) {
            throw new MergestreamException("--base B is required (unless --target weights)");
        }
        // each model is resolved by the library: a local path, BASE+ADAPTER, else a Hugging Face id in the local cache
        DareRequest.Builder request = DareRequest.builder(model.toString(), rho).strategy(strategy)
                .rescale(rescale(rescale, noRescale)).target(target);
        if (base != null) request.base(base.toString());
        exclude.forEach(request::exclude);
        MergeOptions.Builder options = SharedOptions.outputRun(threads, chunkSize, kernel, shardSize, force)
                .seed(seed.orElse(0));
        DareRequest dare = request.build();
        RunResult result = CliListener.showing(quiet.quiet, options, o -> Merge.dare(dare, o).run(output.path));
        MergeCommand.printSummary(result, threads.count, output.path);
        return 0;
    }

    /** --rescale inverse|l1|none, or --no-rescale (its older spelling); the paper's inverse by default. */
    static DareRequest.Rescale rescale(DareRequest.Rescale rescale, boolean noRescale) {
        if (rescale == null) return noRescale ? DareRequest.Rescale.NONE : DareRequest.Rescale.INVERSE;
        if (noRescale && rescale != DareRequest.Rescale.NONE) {
            throw new MergestreamException("--no-rescale contradicts --rescale " + SharedOptions.Words.word(rescale)
                    + " (give one of them)");
        }
        return rescale;
    }
}
