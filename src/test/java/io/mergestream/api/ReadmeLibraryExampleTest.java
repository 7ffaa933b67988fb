package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The README's "Use as a library" example is the file the examples project compiles and runs (bin/test), so the
 * README cannot show code that does not build: the two must be the same text.
 */
class ReadmeLibraryExampleTest {

    @Test
    void readmeExampleIsTheExamplesProjectsFile() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        int section = readme.indexOf("## Use as a library");
        assertTrue(section >= 0, "README has a Use as a library section");
        int start = readme.indexOf("```java\n", section) + "```java\n".length();
        int end = readme.indexOf("```", start);
        String shown = readme.substring(start, end);
        String compiled = Files.readString(Path.of("examples/src/main/java/example/MergeFromRecipe.java"));
        assertEquals(compiled, shown);
        assertTrue(shown.lines().count() <= 30, "a short example");
    }
}
