package io.mergestream.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixtures under {@code testdata/} never drift: the regeneration commands of {@code testdata/README.md}
 * are run (through the CLI, into a temporary directory) and must give the committed files byte for byte.
 */
class CommittedFixturesTest {

    private static final String PREFIX = "bin/mergestream testdata ";

    @TempDir
    Path tmp;

    @Test
    void readmeCommandsRegenerateTheCommittedFixturesByteForByte() throws IOException {
        Path root = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
        Path readme = root.resolve("testdata/README.md");
        List<String> commands = Files.readAllLines(readme).stream().filter(l -> l.startsWith(PREFIX)).toList();
        assertEquals(2, commands.size(), "regeneration commands in " + readme);
        for (String line : commands) {
            List<String> args = new ArrayList<>(Arrays.asList(line.substring(PREFIX.length()).trim().split("\\s+")));
            Path committed = root.resolve(args.getFirst());
            assertTrue(Files.isDirectory(committed), committed + " is committed");
            Path regenerated = tmp.resolve(committed.getFileName());
            args.set(0, regenerated.toString());
            args.addFirst("testdata");
            assertEquals(0, Main.run(args.toArray(String[]::new)), line);
            FamilyGeneratorTest.assertSameFiles(committed, regenerated);
        }
    }
}
