package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README's "Use as a library" examples are the files the examples project compiles and runs (bin/test), so the
 * README cannot show code that does not build: each {@code java} block of the section is the text of the example
 * file named by its class.
 */
class ReadmeLibraryExampleTest {

    @Test
    void readmeExamplesAreTheExamplesProjectsFiles() throws IOException {
        String readme = Files.readString(Path.of("README.md"));
        int section = readme.indexOf("## Use as a library");
        assertTrue(section >= 0, "README has a Use as a library section");
        int sectionEnd = readme.indexOf("\n## ", section + 1);
        List<String> classes = new ArrayList<>();
        for (int at = readme.indexOf("```java\n", section); at >= 0 && at < sectionEnd;
             at = readme.indexOf("```java\n", at + 1)) {
            int start = at + "```java\n".length();
            String shown = readme.substring(start, readme.indexOf("```", start));
            Matcher m = Pattern.compile("public class (\\w+)").matcher(shown);
            assertTrue(m.find(), shown);
            String compiled = Files.readString(Path.of("examples/src/main/java/example/" + m.group(1) + ".java"));
            assertEquals(compiled, shown);
            assertTrue(shown.lines().count() <= 30, "a short example");
            classes.add(m.group(1));
        }
        assertEquals(List.of("MergeFromRecipe", "DarePack"), classes);
    }
}
