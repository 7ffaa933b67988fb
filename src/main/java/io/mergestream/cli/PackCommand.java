package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.Names;
import io.mergestream.api.DareRequest;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.PackResult;
import io.mergestream.engine.Progress;
import io.mergestream.format.pack.PackHeader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mergestream pack}: a fine-tune's DARE'd delta as a delta pack (docs/mspack.md). */
@Command(name = "pack", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes a delta pack: the fine-tune's delta, DARE'd as `mergestream dare` would (same options, same"
                + " keep-mask), stored as its kept values only (lz4 blocks, each xxHash64-checked). Anyone holding the"
                + " base turns it back into dare's output with `mergestream apply`, or merges it in a recipe"
                + " (model: FT.mspack).", "See docs/mspack.md for the format."})
final class PackCommand implements Callable<Integer> {

    @Option(names = "--base", required = true, paramLabel = "B", description = "Base model directory.")
    Path base;

    @Option(names = "--model", required = true, paramLabel = "M", description = "Fine-tuned model directory.")
    Path model;

    @Mixin
    SharedOptions.Density density;

    @Mixin
    SharedOptions.Seed seed;

    @Option(names = "--ordinal", paramLabel = "M", description = "DARE mask model ordinal (default 0): the fine-tune's"
            + " position among a recipe's models, for packs merged with dare_linear / dare_ties.")
    int ordinal;

    @Option(names = "--exclude", paramLabel = "REGEX", converter = SharedOptions.RegexConverter.class, description = "Tensors whose name starts with a match are stored"
            + " whole, the fine-tune's own (as dare --exclude). Repeatable.")
    List<Pattern> exclude = new ArrayList<>();

    @Option(names = "--strategy", paramLabel = "random|magnitude", defaultValue = "random",
            converter = SharedOptions.StrategyWords.class, completionCandidates = SharedOptions.StrategyWords.class,
            description = "random (the DARE keep-mask, positions not stored) or magnitude (positions stored as a bitmap).")
    DareRequest.Strategy strategy;

    @Option(names = "--rescale", paramLabel = "inverse|l1|none",
            converter = SharedOptions.RescaleWords.class, completionCandidates = SharedOptions.RescaleWords.class,
            description = "The rule apply uses by default (inverse unless given); the pack holds what every rule needs.")
    DareRequest.Rescale rescale;

    @Mixin
    SharedOptions.Threads threads;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FT.mspack", description = "The pack to write.")
    Path out;

    @Mixin
    SharedOptions.Quiet quiet;

    @Mixin
    SharedOptions.Kernel kernel;

    @Option(names = "--block-elements", paramLabel = "N", hidden = true, description = "Elements per block (testing).")
    int blockElements = PackHeader.DEFAULT_BLOCK_ELEMENTS;

    @Override
    public Integer call() {
        if (ordinal < 0) throw new MergestreamException("--ordinal must be at least 0");
        if (blockElements < 1 || blockElements > (1 << 24)) throw new MergestreamException("--block-elements must be in [1, 2^24]");
        double rho = density.value();
        DareRequest.Builder request = DareRequest.builder(model.toString(), rho).base(base.toString()).strategy(strategy)
                .rescale(DareCommand.rescale(rescale, false));
        exclude.forEach(request::exclude);
        MergeOptions.Builder options = MergeOptions.builder().threads(threads.count).kernel(kernel.kernel())
                .seed(seed.orElse(0));
        DareRequest dare = request.build();
        PackResult sum = CliListener.showing(quiet.quiet, options, o -> Merge.dare(dare, o).writePack(out, ordinal, blockElements));
        // the merge summary's form: wrapped at 80 columns, rates in GB/s
        System.err.println(SummaryLine.wrap(List.of(
                String.format(Locale.ROOT, "mergestream: packed %d tensors (%d deltas at density %s, %d whole)",
                        sum.deltas() + sum.wholes(), sum.deltas(), rho, sum.wholes()),
                String.format(Locale.ROOT, "read %s in %.2f s (%s)", Bytes.human(sum.bytesRead()), sum.seconds(),
                        Progress.rate(sum.bytesRead() / Math.max(sum.seconds(), 1e-9))),
                String.format(Locale.ROOT, "into %s: %s for a %s model (%.4f of its size)", Names.printable(out),
                        Bytes.human(sum.packBytes()), Bytes.human(sum.modelBytes()), sum.ratio()),
                String.format(Locale.ROOT, "%d kept values at %.2f bits each", sum.kept(), sum.bitsPerKept())),
                ", ", ""));
        return 0;
    }
}
