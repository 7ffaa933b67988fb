package io.mergestream.fuzz;

import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.format.Json;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzz target for {@link Json#read}, which reads config.json (and every other JSON file of a model) into a tree
 * whose numbers are written back as they were read. Contract: a tree, which {@link Json#pretty} writes as
 * JSON that reads back to an equal tree and the same text; or a {@link io.mergestream.MergestreamException}.
 */
class ConfigJsonFuzzTest {

    @TempDir
    static Path dir;

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzConfigJson(byte[] input) {
        Path file = dir.resolve("config.json");
        FuzzSupport.write(file, input);
        FuzzSupport.refusedOr(() -> {
            JsonNode tree = Json.read(file);
            check(tree != null, "null tree");
            if (tree.isMissingNode()) return; // an empty (or all-whitespace) file
            String text = Json.pretty(tree);
            Path again = dir.resolve("again.json");
            Json.writePretty(again, tree); // as mergestream writes an output's config.json
            JsonNode reread = Json.read(again);
            check(reread.equals(tree), "written and read back, the tree differs: " + abbreviate(text));
            check(Json.pretty(reread).equals(text), "written twice, the text differs: " + abbreviate(text));
            if (planted("config")) {
                // stands in for code that narrows config floats to a small range
                Deque<JsonNode> todo = new ArrayDeque<>(List.of(tree));
                while (!todo.isEmpty()) {
                    JsonNode n = todo.pop();
                    n.forEach(todo::push);
                    if (n.isFloatingPointNumber() && Math.abs(n.doubleValue()) >= 1e6) {
                        throw new FuzzSupport.PlantedBug("a float of " + n.asText());
                    }
                }
            }
        });
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
