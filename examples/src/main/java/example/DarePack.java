package example;

import io.mergestream.api.DareRequest;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.PackResult;
import java.nio.file.Path;
import java.util.regex.Pattern;

/** DARE of one fine-tune, kept as a delta pack, then applied to the base: {@code DarePack BASE FT OUT}. */
public class DarePack {
    public static void main(String[] args) {
        DareRequest dare = DareRequest.builder(args[1], 0.3).base(args[0])
                .strategy(DareRequest.Strategy.MAGNITUDE).exclude(Pattern.compile("lm_head\\.")).build();
        MergeOptions options = MergeOptions.builder().seed(7).replaceOutput(true).build();
        Path out = Path.of(args[2]);
        Path pack = out.resolveSibling(out.getFileName() + ".mspack");
        PackResult p = Merge.dare(dare, options).writePack(pack, 0);
        System.out.printf("pack: %d kept values, %.3f of the model's size%n", p.kept(), p.ratio());
        // whoever holds the base turns the pack back into what Merge.dare(dare, options).run(out) writes
        Merge.apply(args[0], pack, options).run(out);
        System.out.println("applied into " + out);
    }
}
