package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.ModelCard;
import io.mergestream.engine.Progress;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.DarePlanner;
import io.mergestream.plan.MergePlan;
import io.mergestream.method.TensorParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mergestream dare}: base + DARE(model - base) for one fine-tune, through the merge engine. */
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
            description = "random (DARE, default) or magnitude (drop the smallest |delta| of each tensor).")
    String strategy;

    @Option(names = "--rescale", paramLabel = "inverse|l1|none",
            description = "What kept deltas become: inverse (default: divided by the density, as in the DARE paper), "
                    + "l1 (scaled so each tensor's kept delta has the L1 norm of the whole delta, mergekit's "
                    + "rescale: true) or none.")
    String rescaleName;

    @Option(names = "--no-rescale", description = "Same as --rescale none.")
    boolean noRescale;

    @Option(names = "--exclude", paramLabel = "REGEX",
            description = {"Tensors whose name starts with a match stay the FINE-TUNE's own (copied from M unchanged), "
                    + "e.g. 'lm_head\\.' or 'classifier\\.'. Repeatable.",
                    "Note: a recipe's exclude: takes the BASE's tensor instead."})
    List<String> exclude = new ArrayList<>();

    @Option(names = "--target", paramLabel = "delta|weights", defaultValue = "delta",
            description = {"delta (default): drop delta elements, the DARE paper's operation; weights: drop the fine-tuned"
                    + " parameters themselves (no base), with the same mask and rescale rules: the paper's contrast."})
    String target;

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
        DarePlanner.Strategy s = switch (strategy.toLowerCase(Locale.ROOT)) {
            case "random" -> DarePlanner.Strategy.RANDOM;
            case "magnitude" -> DarePlanner.Strategy.MAGNITUDE;
            default -> throw new MergestreamException("--strategy must be random or magnitude, not '" + strategy + "'");
        };
        List<Pattern> patterns = excludes(exclude);
        TensorParams.Rescale rescale = rescale(rescaleName, noRescale);
        MergeKernel kernel = this.kernel.kernel();
        long seed = this.seed.orElse(0);
        // DarePlanner.open resolves each: a local path, BASE+ADAPTER, else a Hugging Face id in the local cache
        DarePlanner.Target t = switch (target.toLowerCase(Locale.ROOT)) {
            case "delta" -> DarePlanner.Target.DELTA;
            case "weights" -> DarePlanner.Target.WEIGHTS;
            default -> throw new MergestreamException("--target must be delta or weights, not '" + target + "'");
        };
        if (t == DarePlanner.Target.DELTA && base == null) throw new MergestreamException("--base B is required (unless --target weights)");
        DarePlanner.Request request = new DarePlanner.Request(base, model, rho, s, rescale, patterns, seed, t);
        try (MergePlan plan = DarePlanner.plan(request)) {
            MergeEngine.Options options = new MergeEngine.Options(threads.count, chunkSize.elements, kernel,
                    shardSize.bytes, Terminal.progress(quiet.quiet), System.err);
            ModelCard card = new ModelCard(Version.current(), operation(rho, s, rescale, seed));
            MergeEngine.Summary sum = MergeEngine.run(plan, output.path, force.force, options, card);
            MergeCommand.printSummary(sum, plan, kernel, threads.count, output.path);
        }
        return 0;
    }

    /** --exclude REGEX...: compiled, a bad one named. Shared with pack. */
    static List<Pattern> excludes(List<String> exclude) {
        List<Pattern> patterns = new ArrayList<>();
        for (String e : exclude) {
            try {
                patterns.add(Pattern.compile(e));
            } catch (PatternSyntaxException ex) {
                throw new MergestreamException("--exclude '" + e + "' is not a valid regex: "
                        + ex.getDescription());
            }
        }
        return patterns;
    }

    /** --rescale inverse|l1|none, or --no-rescale (its older spelling); the paper's inverse by default. Shared with pack. */
    static TensorParams.Rescale rescale(String rescaleName, boolean noRescale) {
        if (rescaleName == null) return noRescale ? TensorParams.Rescale.NONE : TensorParams.Rescale.INVERSE;
        TensorParams.Rescale r = switch (rescaleName.trim().toLowerCase(Locale.ROOT)) {
            case "inverse" -> TensorParams.Rescale.INVERSE;
            case "l1" -> TensorParams.Rescale.L1;
            case "none" -> TensorParams.Rescale.NONE;
            default -> throw new MergestreamException("--rescale must be inverse, l1 or none, not '" + rescaleName + "'");
        };
        if (noRescale && r != TensorParams.Rescale.NONE) {
            throw new MergestreamException("--no-rescale contradicts --rescale " + rescaleName + " (give one of them)");
        }
        return r;
    }

    private ModelCard.Operation operation(double rho, DarePlanner.Strategy s, TensorParams.Rescale rescale, long seed) {
        String how = s == DarePlanner.Strategy.RANDOM
                ? "each delta element kept with probability " + rho + " by the DARE keep-mask (dare-mask v1, model ordinal 0)"
                : "the floor(" + rho + " * n) largest |delta| of each tensor kept (ties to the lowest index)";
        StringBuilder d = new StringBuilder()
                .append("Every tensor is `base + sparsify(model - base)`: ").append(how).append(", the rest dropped; kept deltas ")
                .append(switch (rescale) {
                    case NONE -> "are not rescaled.";
                    case INVERSE -> "are divided by " + rho + ".";
                    case L1 -> "are scaled so that each tensor's kept delta has the L1 norm of its whole delta.";
                });
        if (!exclude.isEmpty()) {
            d.append(" Tensors matching ").append(String.join(", ", exclude.stream().map(e -> "`" + e + "`").toList()))
                    .append(" are the fine-tune's own, unchanged.");
        }
        if (base == null) {
            d.setLength(0);
            d.append("Every float tensor is `sparsify(model)`: the fine-tuned weights themselves (not the delta), ")
                    .append(how.replace("delta", "weight"))
                    .append(", the rest set to 0; kept weights ").append(switch (rescale) {
                        case NONE -> "are not rescaled.";
                        case INVERSE -> "are divided by " + rho + ".";
                        case L1 -> "are scaled so that each tensor keeps its L1 norm.";
                    });
        }
        StringBuilder cmd = new StringBuilder("mergestream dare").append(base == null ? " --target weights" : " --base " + base)
                .append(" --model ").append(model)
                .append(" --density ").append(rho).append(" --strategy ").append(s.name().toLowerCase(Locale.ROOT));
        if (rescale != TensorParams.Rescale.INVERSE) cmd.append(" --rescale ").append(rescale.word());
        for (String e : exclude) cmd.append(" --exclude '").append(e).append('\'');
        cmd.append(" --seed ").append(Long.toUnsignedString(seed)).append(" -o ").append(output.path.getFileName());
        return new ModelCard.Operation("DARE of " + model.toAbsolutePath().normalize().getFileName(), d.toString(),
                cmd.toString());
    }
}
