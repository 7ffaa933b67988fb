package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No per-run JVM-global state: the shutdown hook that removes unfinished outputs' staging directories (Ctrl-C under
 * a run) is registered once per JVM, not once per merge, so a program that merges hundreds of times does not grow
 * the JVM's hook list. Counted in a child JVM of its own ({@link ShutdownHookProbe}) around 20 directory merges
 * after a first one: a registration per merge adds 20, one per JVM (made by the first merge) adds none.
 */
class ShutdownHookTest {

    private static final int RUNS = 20;

    @Test
    void twentyMoreMergesRegisterNoShutdownHook(@TempDir Path tmp) throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "--add-opens", "java.base/java.lang=ALL-UNNAMED", "-cp", io.mergestream.TestFiles.childClassPath(),
                ShutdownHookProbe.class.getName(), tmp.toString(), String.valueOf(RUNS));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        try (var in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        // a guard against a hung child, not a speed assertion
        if (!p.waitFor(10, TimeUnit.MINUTES)) p.destroyForcibly();
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        Matcher m = Pattern.compile("hooks-before (\\d+) hooks-after (\\d+) merges (\\d+)").matcher(text);
        assertTrue(m.find(), text);
        assertEquals(RUNS, Integer.parseInt(m.group(3)), text);
        int grew = Integer.parseInt(m.group(2)) - Integer.parseInt(m.group(1));
        assertEquals(0, grew, "the JVM's shutdown hooks grew by " + grew + " over " + RUNS + " merges: " + text);
        assertTrue(text.contains("mergestream-cleanup"), "the staging cleanup hook is registered once: " + text);
    }
}
