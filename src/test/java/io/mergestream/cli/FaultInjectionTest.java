package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults injected into real merges through the CLI, in a JVM launched with bin/mergestream's flags, so that a
 * JVM crash would show (exit 134 and an hs_err file): a full disk (a 64 MB tmpfs, and a loop-mounted ext4
 * image filled with fallocate) and an input truncated by this process while the merge runs. Each fault lands
 * after at least 40% of a merge of 4 x 130 MB, when the kernels are C2-compiled (a small merge would be
 * interpreted, where HotSpot has always handled faults), and each must end in exit code 1, one line on stderr
 * naming the file, no hs_err file, and no staging directory. Mounting needs root: without it those cases are
 * skipped with the reason.
 */
class FaultInjectionTest {

    private static final String MODEL_SIZE = "130MB";
    private static final long TMPFS_BYTES = 64L << 20;

    @TempDir
    static Path shared;
    private static Path family;
    private static long outputBytes;

    @BeforeAll
    static void family() throws IOException {
        family = shared.resolve("family");
        assertEquals(0, Main.run("testdata", family.toString(), "--arch", "llama", "--dtype", "bf16",
                "--fine-tunes", "3", "--size", MODEL_SIZE, "--force"));
        outputBytes = Files.size(family.resolve("base/model.safetensors")); // a bf16 merge writes one model
        long input = 0;
        for (String m : List.of("base", "ft1", "ft2", "ft3")) input += Files.size(family.resolve(m + "/model.safetensors"));
        assertTrue(input >= 500_000_000L, "the merge reads " + input + " bytes, not >= 500 MB");
    }

    /** The recipe of bench/e2e.sh over the family, with fine-tune 2 read from {@code ft2}. */
    private static Path recipe(Path dir, Path ft2) throws IOException {
        Path r = dir.resolve("recipe.yml");
        Files.writeString(r, """
                merge_method: dare_ties
                base_model: %s
                models:
                  - model: %s
                    parameters: {weight: 0.5, density: 0.3}
                  - model: %s
                    parameters: {weight: 0.3, density: 0.5}
                  - model: %s
                    parameters: {weight: 0.2, density: 0.7}
                parameters:
                  normalize: true
                dtype: bfloat16
                seed: 20231103
                """.formatted(family.resolve("base"), family.resolve("ft1"), ft2, family.resolve("ft3")));
        return r;
    }

    @Test
    void aFullTmpfsIsOneLineAndLeavesNothing(@TempDir Path tmp) throws Exception {
        assertTrue(TMPFS_BYTES > 0.4 * outputBytes && TMPFS_BYTES < outputBytes,
                "the tmpfs must fill after 40% of the " + outputBytes + "-byte output");
        Path mnt = Files.createDirectory(tmp.resolve("tmpfs"));
        mount(mnt, "-t", "tmpfs", "-o", "size=" + (TMPFS_BYTES >> 20) + "m", "tmpfs");
        try {
            Path recipe = recipe(tmp, family.resolve("ft2"));
            for (int run = 0; run < 2; run++) diskFull(tmp, recipe, mnt);
        } finally {
            umount(mnt);
        }
    }

    @Test
    void aFullExt4ImageIsOneLineAndLeavesNothing(@TempDir Path tmp) throws Exception {
        Path image = tmp.resolve("ext4.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(outputBytes + (64L << 20)); // sparse: room for the output and ext4's own blocks
        }
        // -m 0: no blocks reserved for root (the test may run as root and would write into them)
        Result mkfs = exec(tmp, "mkfs.ext4", "-q", "-F", "-m", "0", image.toString());
        Assumptions.assumeTrue(mkfs.code() != -1, "mkfs.ext4 is not installed here: " + mkfs.err());
        assertEquals(0, mkfs.code(), "mkfs.ext4: " + mkfs.err());
        Path mnt = Files.createDirectory(tmp.resolve("ext4"));
        mount(mnt, "-o", "loop", image.toString());
        try {
            // fill the filesystem until what is left holds 55% of the output: full after 40% of the merge
            long free = Files.getFileStore(mnt).getUsableSpace();
            long keep = (long) (0.55 * outputBytes);
            Result fill = exec(tmp, "fallocate", "-l", Long.toString(free - keep), mnt.resolve("filler").toString());
            assertEquals(0, fill.code(), "fallocate: " + fill.err());
            long left = Files.getFileStore(mnt).getUsableSpace();
            assertTrue(left > 0.4 * outputBytes && left < outputBytes, left + " bytes left for " + outputBytes);
            Path recipe = recipe(tmp, family.resolve("ft2"));
            for (int run = 0; run < 2; run++) diskFull(tmp, recipe, mnt);
        } finally {
            umount(mnt);
        }
    }

    private static void diskFull(Path tmp, Path recipe, Path mnt) throws Exception {
        Path cwd = Files.createTempDirectory(tmp, "cwd");
        Path out = mnt.resolve("out");
        Process p = start(cwd, "merge", recipe.toString(), "-o", out.toString(), "--force", "--quiet", "--threads", "2");
        int code = waitFor(p);
        List<String> lines = stderr(cwd);
        assertNoHsErr(cwd, p.pid());
        assertEquals(1, code, "exit code; stderr: " + lines);
        assertEquals(1, lines.size(), "one line on stderr: " + lines);
        assertTrue(lines.get(0).startsWith("mergestream: no space left on device: " + mnt + "/"), lines.get(0));
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(mnt)) {
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().startsWith(".out")).toList(),
                    "staging left behind");
        }
    }

    /**
     * A fine-tune truncated to its first page once 40% of the output is written, twice with the default
     * (vector) kernel and once with the scalar one: one line naming that file.
     */
    @Test
    void anInputTruncatedUnderTheMergeIsOneLineNamingIt(@TempDir Path tmp) throws Exception {
        String[] kernels = {"auto", "auto", "scalar"};
        for (int run = 0; run < kernels.length; run++) truncatedUnderTheMerge(tmp.resolve("run" + run), kernels[run]);
    }

    /**
     * The same with the C kernel, whose downcalls would die on a lost page (SIGBUS in native code is an hs_err,
     * exit 134): it reads only copies of the mapped windows, so the fault arrives in Java, as one line.
     */
    @Test
    void anInputTruncatedUnderANativeKernelMergeIsOneLineNamingIt(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(io.mergestream.kernel.NativeKernel.isAvailable(),
                () -> "native kernel not built: " + io.mergestream.kernel.NativeKernel.unavailableReason());
        truncatedUnderTheMerge(tmp.resolve("native"), "native");
    }

    private static void truncatedUnderTheMerge(Path dirPath, String kernel) throws Exception {
        Path dir = Files.createDirectory(dirPath);
        Path ft2 = Files.createDirectory(dir.resolve("ft2"));
        try (Stream<Path> s = Files.list(family.resolve("ft2"))) {
            for (Path f : s.toList()) Files.copy(f, ft2.resolve(f.getFileName()));
        }
        Path shard = ft2.resolve("model.safetensors");
        Path cwd = Files.createDirectory(dir.resolve("cwd"));
        Path out = dir.resolve("out");
        Process p = start(cwd, "merge", recipe(dir, ft2).toString(), "-o", out.toString(), "--force", "--quiet",
                "--threads", "2", "--kernel", kernel);
        // the output shard is written in order by positional writes: its size is the merge's progress
        Path staging = dir.resolve(".out.partial-" + p.pid()).resolve("model.safetensors");
        boolean truncated = false;
        while (p.isAlive()) {
            if (Files.exists(staging) && Files.size(staging) >= 0.4 * outputBytes) {
                try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.WRITE)) {
                    ch.truncate(4096);
                }
                truncated = true;
                break;
            }
            Thread.sleep(5);
        }
        if (!truncated) fail("the merge ended before 40% of it could be observed; stderr: " + stderr(cwd));
        int code = waitFor(p);
        List<String> lines = stderr(cwd);
        assertNoHsErr(cwd, p.pid());
        assertEquals(1, code, kernel + " kernel: exit code; stderr: " + lines);
        assertEquals(1, lines.size(), "one line on stderr: " + lines);
        assertTrue(lines.get(0).startsWith("mergestream: " + shard + ": truncated while being read (4096 bytes, "),
                lines.get(0));
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(staging.getParent()), "staging left behind");
    }

    // --- the subprocess: bin/mergestream's JVM flags, stderr to a file, hs_err (if any) into its cwd ---

    private static Process start(Path cwd, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-Xmx128m", "-XX:ErrorFile=" + cwd.resolve("hs_err_pid%p.log"),
                "-cp", io.mergestream.TestFiles.childClassPath(), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(cwd.resolve("stdout.txt").toFile())
                .redirectError(cwd.resolve("stderr.txt").toFile())
                .start();
    }

    /** Waits for the merge; a hung one fails the test instead of hanging the build (not a timing assertion). */
    private static int waitFor(Process p) throws InterruptedException {
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail("the merge did not end");
        }
        return p.exitValue();
    }

    /** The subprocess's stderr without the JVM's incubator-module notice. */
    private static List<String> stderr(Path cwd) throws IOException {
        return Files.readAllLines(cwd.resolve("stderr.txt"), StandardCharsets.UTF_8).stream()
                .filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
    }

    /** No crash report in the subprocess's cwd, nor where HotSpot falls back to (the temp dir, this cwd). */
    private static void assertNoHsErr(Path cwd, long pid) throws IOException {
        String name = "hs_err_pid" + pid + ".log";
        for (Path dir : List.of(cwd, Path.of(System.getProperty("java.io.tmpdir")), Path.of(System.getProperty("user.dir")))) {
            Path f = dir.resolve(name);
            if (Files.exists(f)) {
                String head = String.join("\n", Files.readAllLines(f).stream().limit(20).toList());
                Files.delete(f);
                fail("the JVM crashed: " + f + "\n" + head);
            }
        }
        try (Stream<Path> s = Files.list(cwd)) {
            assertEquals(List.of(), s.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList());
        }
    }

    // --- mounting: root only; skipped with the reason otherwise ---

    private static void mount(Path at, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("mount"));
        cmd.addAll(List.of(args));
        cmd.add(at.toString());
        Result r = exec(at.getParent(), cmd.toArray(String[]::new));
        Assumptions.assumeTrue(r.code() == 0, "cannot mount here (needs root and mount permission): " + r.err());
    }

    private static void umount(Path at) throws Exception {
        Result r = exec(at.getParent(), "umount", at.toString());
        assertEquals(0, r.code(), "umount " + at + ": " + r.err());
    }

    private record Result(int code, String err) {}

    private static Result exec(Path cwd, String... cmd) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        }
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        return new Result(p.waitFor(), text);
    }
}
