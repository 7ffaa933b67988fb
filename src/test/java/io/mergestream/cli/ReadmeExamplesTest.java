package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every fenced example in README.md that runs mergestream is executed, through bin/mergestream as a user runs
 * it, and its output compared line by line with what the README shows (the rules are in {@link Example} and in
 * the comment at the top of README.md). A README whose example drifts from the program fails the build.
 */
class ReadmeExamplesTest {

    static final Path README = Path.of("README.md");

    @TempDir
    Path tmp;

    /**
     * One command of a fenced block: a line {@code $ COMMAND} and the lines after it up to the next {@code $}
     * line or the end of the block, which are what the command prints (stdout and stderr together, as on a
     * terminal). A block is an example when one of its lines starts with {@code $ mergestream} or {@code $
     * bin/mergestream}; all its {@code $} commands run, in order, in the repository root, one bash each, after
     * the examples above it (a later one may read what an earlier one wrote). {@code /tmp/} in a command is a
     * fresh directory of the test's own.
     */
    record Example(int line, String command, List<String> expected) {}

    static List<Example> examples(List<String> readme) {
        List<Example> all = new ArrayList<>();
        boolean inBlock = false;
        List<Example> block = new ArrayList<>();
        for (int i = 0; i < readme.size(); i++) {
            String l = readme.get(i);
            if (l.startsWith("```")) {
                if (inBlock && block.stream().anyMatch(e -> e.command().matches("(bin/)?mergestream( .*)?"))) all.addAll(block);
                inBlock = !inBlock;
                block = new ArrayList<>();
            } else if (inBlock && l.startsWith("$ ")) {
                block.add(new Example(i + 1, l.substring(2), new ArrayList<>()));
            } else if (inBlock && !block.isEmpty()) {
                block.getLast().expected().add(l);
            }
        }
        return all;
    }

    /** What varies from run to run or machine to machine, replaced by a placeholder in both texts. */
    static String mask(String line) {
        String m = line;
        m = m.replaceAll("\\d+(\\.\\d+)? ?[KMGT]?B/s", "<rate>");
        m = m.replaceAll("\\d+(\\.\\d+)? [KMGT]?B\\b", "<size>");
        m = m.replaceAll("\\d+(\\.\\d+)? ?s\\b", "<time>");
        m = m.replaceAll("\\b\\d+ threads", "<n> threads");
        return m;
    }

    /** Progress lines (printed every few seconds when stderr is not a terminal) depend on the machine's speed. */
    static final Pattern PROGRESS = Pattern.compile("mergestream: +\\d+\\.\\d% .*");

    @Test
    void everyExampleInTheReadmeRunsAsShown() throws Exception {
        List<Example> examples = examples(Files.readAllLines(README, StandardCharsets.UTF_8));
        assertTrue(examples.size() >= 5, "examples found: " + examples.size());
        for (Example e : examples) {
            String out = run(e.command().replace("/tmp/", tmp + "/")).replace(tmp + "/", "/tmp/");
            List<String> actual = out.lines().filter(l -> !PROGRESS.matcher(l).matches()).map(ReadmeExamplesTest::mask).toList();
            List<String> expected = e.expected().stream().map(ReadmeExamplesTest::mask).toList();
            for (int i = 0; i < Math.max(actual.size(), expected.size()); i++) {
                String want = i < expected.size() ? expected.get(i) : "(no line)";
                String got = i < actual.size() ? actual.get(i) : "(no line)";
                assertEquals(want, got, "README.md line " + (e.line() + 1 + i) + ", output line " + (i + 1) + " of `$ "
                        + e.command() + "` (sizes, times, rates and thread counts masked); it printed:\n" + out);
            }
        }
    }

    @Test
    void examplesAreFoundAndMasked() {
        List<Example> found = examples(List.of("text", "```", "$ mergestream x --y", "out 1", "", "$ echo hi", "hi", "```",
                "```", "$ ls", "a", "```", "```yaml", "a: 1", "```"));
        assertEquals(List.of(new Example(3, "mergestream x --y", List.of("out 1", "")), new Example(6, "echo hi", List.of("hi"))),
                found);
        assertEquals("read <size> in <time> (<rate>), peak RSS <size>, <n> threads",
                mask("read 394.50 KB in 0.28 s (0.00 GB/s), peak RSS 112 MB, 2 threads"));
        assertEquals("p50|d| 1.04e-03 and 96.5% within 0.005", mask("p50|d| 1.04e-03 and 96.5% within 0.005"));
        assertFalse(PROGRESS.matcher("mergestream: merged 21 tensors").matches());
        assertTrue(PROGRESS.matcher("mergestream:  33.3%  0.15/0.44 GB  0.03 GB/s  ETA 11s  112/333 x").matches());
    }

    /** Runs {@code command} in bash in the repository root, bin/mergestream on the test classes; stdout + stderr. */
    private String run(String command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true);
        pb.environment().put("MERGESTREAM_CLASSPATH", io.mergestream.TestFiles.childClassPath());
        pb.environment().put("PATH", Path.of("bin").toAbsolutePath() + ":" + System.getenv("PATH"));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("MERGESTREAM_JAVA_OPTS");
        Process p = pb.start();
        byte[] bytes = p.getInputStream().readAllBytes();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("`" + command + "` did not end");
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
