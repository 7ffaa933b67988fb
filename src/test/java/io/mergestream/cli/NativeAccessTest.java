package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.format.MappedPages;
import io.mergestream.kernel.NativeKernel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a JVM without native access, without the C library, or without page advice (madvise/fadvise: Linux
 * only) makes of a merge, each in a child JVM started so (this one has all three): the same bytes as here, and
 * at most one line saying what is missing, never the JVM's "restricted method" warnings.
 */
class NativeAccessTest {

    @TempDir
    static Path shared;
    private static Path recipe;
    private static Path expected;

    @BeforeAll
    static void family() throws IOException {
        Path family = shared.resolve("family");
        assertEquals(0, Main.run("testdata", family.toString(), "--arch", "llama", "--dtype", "bf16",
                "--fine-tunes", "2", "--size", "2MB", "--force"));
        recipe = Files.writeString(shared.resolve("recipe.yml"), """
                merge_method: dare_ties
                base_model: %s
                models:
                  - model: %s
                    parameters: {weight: 0.6, density: 0.5}
                  - model: %s
                    parameters: {weight: 0.4, density: 0.7}
                dtype: bfloat16
                seed: 7
                """.formatted(family.resolve("base"), family.resolve("ft1"), family.resolve("ft2")));
        expected = shared.resolve("expected");
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", expected.toString(), "--quiet"));
    }

    @Test
    void withoutNativeAccessNativeIsTheJavaKernelAfterOneWarning(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        Child c = child(tmp, List.of(), Main.class, "merge", recipe.toString(), "-o", out.toString(), "--quiet",
                "--kernel", "native");
        assertEquals(0, c.code(), c.stderr().toString());
        assertEquals(List.of("mergestream: warning: native kernel: native access is not enabled for the class path"
                + " (start java with --enable-native-access=ALL-UNNAMED); using the vector kernel instead"), c.stderr());
        assertSameFiles(expected, out);
    }

    @Test
    void withoutTheLibraryNativeIsRefusedInOneLineSayingWhy(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("nowhere").resolve(NativeKernel.LIBRARY_FILE);
        Child c = child(tmp, List.of("--enable-native-access=ALL-UNNAMED", "-D" + NativeKernel.LIBRARY_PROPERTY + "=" + missing),
                Main.class, "merge", recipe.toString(), "-o", tmp.resolve("out").toString(), "--quiet", "--kernel", "native");
        assertEquals(2, c.code(), c.stderr().toString());
        // merge resolves the kernel through the API (MergeOptions.Kernel.NATIVE), whose words name no CLI option
        assertEquals(List.of("mergestream: kernel native: native kernel not built: run native/build.sh (needs gcc); looked for ["
                + missing + "]"), c.stderr());
        assertTrue(Files.notExists(tmp.resolve("out")));
    }

    /** The path of a platform without the advice calls: advice is a no-op there and the output is the same. */
    @Test
    void withoutPageAdviceAMergeWritesTheSameBytes(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(MappedPages.available(), "no page advice in this JVM either: nothing to compare");
        Path out = tmp.resolve("out");
        Child c = child(tmp, List.of("--enable-native-access=ALL-UNNAMED", "-D" + MappedPages.DISABLE_PROPERTY + "=true"),
                AdviceOffMain.class, "merge", recipe.toString(), "-o", out.toString(), "--quiet", "--threads", "2");
        assertEquals(0, c.code(), c.stderr().toString());
        assertEquals(List.of(), c.stderr());
        assertSameFiles(expected, out);
    }

    /** The child's exit code and stderr, without the JVM's incubator notice and the summary line. */
    private record Child(int code, List<String> stderr) {}

    private static Child child(Path dir, List<String> flags, Class<?> main, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-Xmx128m"));
        cmd.addAll(flags);
        cmd.addAll(List.of("-cp", io.mergestream.TestFiles.childClassPath(), main.getName()));
        cmd.addAll(List.of(args));
        Path err = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve("stdout.txt").toFile())
                .redirectError(err.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the child JVM did not end");
        }
        List<String> lines = Files.readAllLines(err, StandardCharsets.UTF_8).stream()
                .filter(l -> !l.startsWith("WARNING: Using incubator modules") && !l.startsWith("mergestream: merged ")
                        && !l.startsWith("  ")) // the summary's continuation lines
                .toList();
        return new Child(p.exitValue(), lines);
    }

    /**
     * Every file of {@code a} is in {@code b} with the same bytes, and {@code b} has no other; but the model card,
     * which names the output's path, and the manifest, which lists the card's size.
     */
    private static void assertSameFiles(Path a, Path b) throws IOException {
        List<Path> fa = files(a);
        assertEquals(fa, files(b));
        for (Path f : fa) assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f.toString());
    }

    private static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(dir::relativize)
                    .filter(f -> !f.toString().equals("README.md") && !f.toString().equals(".mergestream-output.json"))
                    .sorted().toList();
        }
    }
}
