package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mergestream.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/** Writes a test recipe with placeholders (BASE, FT1 ...) replaced by model paths, and runs the merge command. */
final class MergeRuns {

    private MergeRuns() {}

    /** Writes {@code dir/NAME.yml} from {@code body}, each key of {@code models} replaced by its path. */
    static Path recipe(Path dir, String name, String body, Map<String, Path> models) throws IOException {
        String text = body;
        for (Map.Entry<String, Path> m : models.entrySet()) text = text.replace(m.getKey(), m.getValue().toString());
        Path r = dir.resolve(name + ".yml");
        Files.writeString(r, text);
        return r;
    }

    /** Runs {@code mergestream merge RECIPE -o dir/OUT -q --force EXTRA...}, asserts exit 0, returns the output. */
    static Path merge(Path dir, Path recipe, String out, String... extra) {
        Path o = dir.resolve(out);
        String[] args = Stream.concat(Stream.of("merge", recipe.toString(), "-o", o.toString(), "-q", "--force"),
                Stream.of(extra)).toArray(String[]::new);
        assertEquals(0, Main.run(args), "merge exit code");
        return o;
    }
}
