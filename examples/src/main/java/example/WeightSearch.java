package example;

import io.mergestream.api.InMemoryModel;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.MergeRecipe;
import io.mergestream.api.OutputTensor;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * A weight search, as an evolutionary merge would run one: merges the bundled family's fine-tunes ft1 and ft2 into
 * memory for each candidate weight, scores every merge with a caller-supplied function, keeps the best. Nothing is
 * written to disk; each merged model is dropped (its memory freed) as soon as it is scored.
 *
 * <p>The score here is made checkable: the distance to a target merged with weights 0.3 / 0.7, so the search must
 * find 0.3 (the example exits 1 if it does not). A real search would run an evaluation instead.
 */
public class WeightSearch {

    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static void main(String[] args) {
        Path family = Path.of(args[0]).toAbsolutePath();
        MergeOptions options = MergeOptions.builder().threads(2).build();
        try (InMemoryModel target = merge(family, 0.3, options)) {
            ToDoubleFunction<InMemoryModel> score = model -> -squaredDistance(model, target);
            double best = Double.NaN;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int i = 1; i <= 9; i++) {
                double w = i / 10.0;
                try (InMemoryModel candidate = merge(family, w, options)) {
                    double s = score.applyAsDouble(candidate);
                    System.out.printf(Locale.ROOT, "weight %.1f: score %.6g%n", w, s);
                    if (s > bestScore) {
                        bestScore = s;
                        best = w;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "best weight for ft1: %.1f%n", best);
            if (Math.abs(best - 0.3) > 1e-9) System.exit(1);
        }
    }

    /** ft1 * w + ft2 * (1 - w), into memory. */
    static InMemoryModel merge(Path family, double w, MergeOptions options) {
        MergeRecipe recipe = MergeRecipe.builder("linear")
                .model(family.resolve("ft1").toString(), Map.of("weight", w))
                .model(family.resolve("ft2").toString(), Map.of("weight", 1 - w))
                .build();
        InMemoryModel model = new InMemoryModel();
        Merge.of(recipe, options).run(model);
        return model;
    }

    static double squaredDistance(InMemoryModel a, InMemoryModel b) {
        double sum = 0;
        for (OutputTensor t : a.tensors()) {
            OutputTensor u = b.tensor(t.name());
            for (long i = 0; i < t.elements(); i++) {
                double d = value(t, i) - value(u, i);
                sum += d * d;
            }
        }
        return sum;
    }

    static float value(OutputTensor t, long i) {
        return switch (t.dtype()) {
            case "BF16" -> Float.intBitsToFloat((t.data().getAtIndex(BF16, i) & 0xffff) << 16);
            case "F32" -> t.data().getAtIndex(F32, i);
            default -> throw new IllegalArgumentException(t.name() + ": " + t.dtype());
        };
    }
}
