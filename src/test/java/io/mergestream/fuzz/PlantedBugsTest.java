package io.mergestream.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Each fuzz target finds the bug planted for it (FuzzSupport#planted, test code only) within 5 minutes of
 * fuzzing: the run that shows a target can find something. Minutes per case, so not part of CI (tag
 * {@code planted}, excluded by the pom); run with
 * {@code mvn -Dms.excludedGroups=none -Dtest=PlantedBugsTest test} (each case runs {@code bench/fuzz.sh TARGET 5m
 * --plant NAME}, niced, one at a time). The crash file the run writes into the target's corpus is removed again.
 *
 * <p>Runs so far (bench/README.md, Fuzzing, has the details). The third session of 2026-12-02, every plant from the
 * committed seeds alone ({@code .cifuzz-corpus/} removed first): {@code safetensors} (the header-length bound off by
 * one) found in 5 s, {@code header} (the data-section size off by one) in 6 s, {@code index} in 15 s, {@code recipe}
 * in 12 s, {@code vocabulary} in 20 s, {@code zip} in 163 s, {@code unpickler} in 22 s, {@code pack-header} (the
 * magnitude block's bound with its bitmap rounded down, in the typed target {@code pack-header-fields}) in 3 s; the
 * second session, also from the seeds: {@code config} (an integer beyond the int range) in 20 s, {@code pack} (the
 * pack framing's header-length bound off by one) in 16 s.
 */
@Tag("planted")
class PlantedBugsTest {

    @ParameterizedTest
    @CsvSource({"checkpoint, safetensors", "header, header", "index, index", "recipe, recipe",
            "vocabulary, vocabulary", "config, config", "zip, zip", "unpickler, unpickler", "pack, pack",
            "pack-header-fields, pack-header"})
    void theTargetFindsItsPlantedBug(String target, String plant) throws IOException, InterruptedException {
        Path root = Path.of("").toAbsolutePath();
        Path corpora = root.resolve("src/test/resources/io/mergestream/fuzz");
        List<Path> before = crashFiles(corpora);
        Process p = new ProcessBuilder(root.resolve("bench/fuzz.sh").toString(), target, "5m", "--plant", plant)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        for (Path f : crashFiles(corpora)) if (!before.contains(f)) Files.delete(f);
        assertTrue(out.contains("planted bug:"), target + " did not find the planted bug '" + plant + "' in 5 minutes:\n"
                + out.lines().filter(l -> l.startsWith("#") || l.contains("Tests run")).reduce("", (a, b) -> a + b + "\n"));
    }

    private static List<Path> crashFiles(Path corpora) throws IOException {
        try (Stream<Path> s = Files.walk(corpora)) {
            return new ArrayList<>(s.filter(f -> f.getFileName().toString().startsWith("crash-")).toList());
        }
    }
}
