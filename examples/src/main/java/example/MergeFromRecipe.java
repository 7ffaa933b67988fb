package example;

import io.mergestream.api.BadInputException;
import io.mergestream.api.Merge;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.MergeRecipe;
import io.mergestream.api.RunResult;
import java.nio.file.Path;

/** Merges as a mergekit recipe file says: {@code MergeFromRecipe RECIPE OUT}. */
public class MergeFromRecipe {
    public static void main(String[] args) {
        MergeRecipe recipe = MergeRecipe.fromFile(Path.of(args[0]));
        MergeOptions options = MergeOptions.builder().threads(2).seed(42).replaceOutput(true).build();
        Merge merge = Merge.of(recipe, options);
        try {
            System.out.println("plan: " + merge.plan().tensors().size() + " tensors");
            RunResult r = merge.run(Path.of(args[1]));   // atomic: the directory appears complete
            System.out.printf("merged %d tensors (%s) into %s%n", r.tensors(), r.method(), args[1]);
        } catch (BadInputException e) {
            System.err.println("bad input: " + e.getMessage());
            System.exit(2);
        }
    }
}
