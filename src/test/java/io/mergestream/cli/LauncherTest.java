package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/mergestream as users run it (on the test classes, MERGESTREAM_CLASSPATH): quiet stderr, the JVM's own
 * boot errors still shown, and on a pseudo-terminal (util-linux script(1)) a live bar that Ctrl-C ends at once
 * with one line and exit 130.
 */
class LauncherTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err) {}

    private static ProcessBuilder launcher(Map<String, String> env, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of("bin", "mergestream").toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("MERGESTREAM_CLASSPATH", io.mergestream.TestFiles.childClassPath());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("MERGESTREAM_JAVA_OPTS");
        pb.environment().putAll(env);
        return pb;
    }

    private Result run(Map<String, String> env, String... args) throws Exception {
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = launcher(env, args).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the launcher did not end");
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void noIncubatorNoticeOnAnyInvocation() throws Exception {
        Result version = run(Map.of(), "--version");
        assertEquals(0, version.code());
        assertTrue(version.out().startsWith("mergestream "), version.out());
        assertEquals("", version.err());
        Result help = run(Map.of(), "inspect", "--help");
        assertEquals(0, help.code());
        assertEquals("", help.err());
        Result top = run(Map.of(), "--help");
        assertEquals(0, top.code());
        assertEquals("", top.err());
        assertTrue(top.out().startsWith("Usage: mergestream "), top.out());
        Result quiet = run(Map.of(), "testdata", dir.resolve("q").toString(), "--layers", "1", "--hidden", "64",
                "--intermediate", "128", "--vocab", "256", "--heads", "4", "--fine-tunes", "1", "-q");
        assertEquals(0, quiet.code(), quiet.err());
        assertEquals("", quiet.err());
        assertTrue(quiet.out().contains("wrote 2 models"), quiet.out());
        Result json = run(Map.of(), "inspect", "--json", "testdata/tiny-llama/base");
        assertEquals(0, json.code(), json.err());
        assertEquals("", json.err());
        assertTrue(json.out().startsWith("{"), json.out());
        // what the program itself says on stderr still comes through, on the real stderr
        Result bad = run(Map.of(), "inspect", "/nonexistent-model");
        assertEquals(Main.EXIT_BAD_INPUT, bad.code());
        assertEquals("mergestream: MODEL /nonexistent-model: not found: no such file or directory (looked for "
                + "/nonexistent-model)\n", bad.err());
    }

    @Test
    void whatTheJvmSaysWhileBootingStillComesThrough() throws Exception {
        Result r = run(Map.of("MERGESTREAM_JAVA_OPTS", "-XX:+NoSuchMergestreamFlag"), "--version");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("Unrecognized VM option 'NoSuchMergestreamFlag'"), r.err());
        assertFalse(r.err().contains("incubator"), r.err());
    }

    @Test
    void onATerminalTheBarRedrawsAndCtrlCEndsTheRunAtOnceWithOneLine() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "no script(1) (util-linux) here");
        Path family = dir.resolve("family");
        Result gen = run(Map.of(), "testdata", family.toString(), "--size", "128MB", "--fine-tunes", "1", "-q");
        assertEquals(0, gen.code(), gen.err());
        Path recipe = Files.writeString(dir.resolve("r.yml"), "merge_method: dare_ties\nbase_model: " + family.resolve("base")
                + "\nmodels:\n  - model: " + family.resolve("ft1") + "\n    parameters: {weight: 1, density: 0.5}\n");
        Path out = dir.resolve("merged");
        // the scalar kernel on one thread: 64 M elements at ~50 ns each, seconds even on a fast machine (the bar
        // is redrawn every 200 ms); on a slow one the loop below waits for the bar
        String command = String.join(" ", launcher(Map.of(), "merge", recipe.toString(), "-o", out.toString(), "--threads",
                "1", "--kernel", "scalar").command());
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/script", "-q", "-e", "-c", command, "/dev/null");
        pb.environment().put("MERGESTREAM_CLASSPATH", io.mergestream.TestFiles.childClassPath());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("TERM", "xterm");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        Thread reader = Thread.ofPlatform().daemon().start(() -> copy(p.getInputStream(), seen));
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (!seen.toString(StandardCharsets.UTF_8).contains("\r\033[K[") && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(seen.toString(StandardCharsets.UTF_8).contains("\r\033[K["), "no live bar on the terminal:\n" + seen);
        OutputStream keys = p.getOutputStream();
        keys.write(3); // Ctrl-C, through the terminal's line discipline: SIGINT to the foreground process group
        keys.flush();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "Ctrl-C did not end the run");
        reader.join(10_000);
        String all = seen.toString(StandardCharsets.UTF_8);
        assertEquals(130, p.exitValue(), all);
        assertTrue(all.endsWith("\r\033[Kmergestream: interrupted; nothing written\r\n"), all);
        assertFalse(all.contains("incubator"), all);
        assertFalse(Files.exists(out));
        try (Stream<Path> left = Files.list(dir)) {
            assertEquals(List.of(), left.filter(f -> f.getFileName().toString().startsWith(".merged")).toList());
        }
    }

    private static void copy(InputStream in, ByteArrayOutputStream to) {
        byte[] b = new byte[4096];
        try {
            for (int n; (n = in.read(b)) > 0; ) {
                synchronized (to) {
                    to.write(b, 0, n);
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }
}
