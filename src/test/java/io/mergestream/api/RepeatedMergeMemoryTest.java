package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A program that merges hundreds of times (a weight search) must not grow: after 10 warm-up merges of the bundled
 * tiny Llama family into memory, 100 more change the heap after GC and the native memory (Native Memory Tracking,
 * see {@link RepeatedMergeProbe}) by less than 1 MB each. The same measurement with a sink that leaks its arena
 * must see the leak (100 runs of a 216 KB model: about 21 MB), or the first half would prove nothing. Each runs in
 * a child JVM of its own, so that nothing else the test JVM does is counted.
 */
class RepeatedMergeMemoryTest {

    private static final long LIMIT = 1L << 20;
    private static final Pattern LINE = Pattern.compile("heap-delta-bytes (-?\\d+) native-delta-bytes (-?\\d+)");

    @Test
    void hundredMergesIntoMemoryKeepHeapAndNativeMemoryFlat() throws Exception {
        long[] clean = probe("clean");
        assertTrue(clean[0] < LIMIT, "heap grew by " + clean[0] + " bytes over 100 merges");
        assertTrue(clean[1] < LIMIT, "native memory grew by " + clean[1] + " bytes over 100 merges");

        long[] leaky = probe("leaky");
        assertTrue(leaky[1] >= LIMIT, "the leaking sink's arenas went unseen: native memory grew by " + leaky[1]);
    }

    /** Runs the probe in a child JVM with NMT; returns {heap delta, native delta} in bytes. */
    private static long[] probe(String mode) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:NativeMemoryTracking=summary", "-Xmx256m", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", io.mergestream.TestFiles.childClassPath(),
                RepeatedMergeProbe.class.getName(), mode, "10", "100"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        try (var in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        // a guard against a hung child, not a speed assertion
        if (!p.waitFor(20, TimeUnit.MINUTES)) p.destroyForcibly();
        String text = new String(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), text);
        Matcher m = LINE.matcher(text);
        assertTrue(m.find(), text);
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }
}
