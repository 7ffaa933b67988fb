package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.Names;
import io.mergestream.engine.Progress;
import io.mergestream.format.OutputFile;
import io.mergestream.format.pack.PackFile;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.pack.Packer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
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

    @Option(names = "--exclude", paramLabel = "REGEX", description = "Tensors whose name starts with a match are stored"
            + " whole, the fine-tune's own (as dare --exclude). Repeatable.")
    List<String> exclude = new ArrayList<>();

    @Option(names = "--strategy", paramLabel = "random|magnitude", defaultValue = "random",
            description = "random (the DARE keep-mask, positions not stored) or magnitude (positions stored as a bitmap).")
    String strategy;

    @Option(names = "--rescale", paramLabel = "inverse|l1|none", description = "The rule apply uses by default (inverse"
            + " unless given); the pack holds what every rule needs.")
    String rescaleName;

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
        PackHeader.Strategy s = switch (strategy.toLowerCase(Locale.ROOT)) {
            case "random" -> PackHeader.Strategy.RANDOM;
            case "magnitude" -> PackHeader.Strategy.MAGNITUDE;
            default -> throw new MergestreamException("--strategy must be random or magnitude, not '" + strategy + "'");
        };
        MergeKernel kernel = this.kernel.kernel();
        OutputFile.check(out, "-o", List.of(base, model), PackCommand::isPackHead);
        Packer.Summary sum = Packer.pack(new Packer.Request(base, model, rho, s, DareCommand.rescale(rescaleName, false),
                DareCommand.excludes(exclude), seed.orElse(0), ordinal, out, threads.count, blockElements), kernel, Terminal.progress(quiet.quiet),
                System.err);
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

    /** An existing -o file is replaced only when it is a pack (mergestream wrote it). */
    private static boolean isPackHead(String head) {
        return head.startsWith(new String(PackFile.MAGIC, java.nio.charset.StandardCharsets.ISO_8859_1));
    }
}
