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
            if (planted("config")) plantedIntNarrowing(tree);
        });
    }

    /**
     * The planted bug {@code config}: code that reads a config integer with {@code JsonNode.intValue()}, which
     * wraps a value beyond the int range without a word (what {@code max_position_embeddings} or a token id read
     * so would become). It fires on the rare branch of {@code Json.read} that makes a long or BigInteger node
     * (no seed has one); the fuzzer climbs to it by digits added to a seed's integer, each length a new path of
     * Jackson's number parser, the int-range comparison at 10 digits traced for it.
     */
    private static void plantedIntNarrowing(JsonNode tree) {
        Deque<JsonNode> todo = new ArrayDeque<>(List.of(tree));
        while (!todo.isEmpty()) {
            JsonNode n = todo.pop();
            n.forEach(todo::push);
            if (n.isIntegralNumber() && n.intValue() != n.longValue() || n.isBigInteger()) {
                throw new FuzzSupport.PlantedBug("the integer " + n.asText() + " read as the int " + n.intValue());
            }
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
