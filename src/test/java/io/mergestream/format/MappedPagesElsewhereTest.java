package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestFiles;
import io.mergestream.cli.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The page advice (madvise, posix_fadvise) is Linux's: on any other OS it must be a no-op, not a failure. A JVM
 * told it runs elsewhere ({@code -Dos.name}) gives no advice and merges the bundled family to the same bytes as
 * a JVM on Linux.
 */
class MappedPagesElsewhereTest {

    /** Prints whether page advice is available in this JVM. */
    public static final class Probe {
        public static void main(String[] args) {
            System.out.println("advice " + MappedPages.available());
        }
    }

    @Test
    void withoutLinuxThereIsNoAdviceAndTheMergeIsTheSame(@TempDir Path tmp) throws Exception {
        Path cwd = Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
        assertEquals("advice false", run(tmp, "elsewhere", List.of("-Dos.name=Plan9"), Probe.class, List.of()).trim());
        String recipe = cwd.resolve("testdata/recipes/dare_ties.yml").toString();
        run(tmp, "linux-merge", List.of(), Main.class, List.of("merge", recipe, "-o", tmp.resolve("linux").toString()));
        run(tmp, "elsewhere-merge", List.of("-Dos.name=Plan9"), Main.class,
                List.of("merge", recipe, "-o", tmp.resolve("elsewhere").toString()));
        byte[] linux = Files.readAllBytes(tmp.resolve("linux/model.safetensors"));
        assertTrue(linux.length > 1000, "merged model of " + linux.length + " bytes");
        assertArrayEquals(linux, Files.readAllBytes(tmp.resolve("elsewhere/model.safetensors")));
    }

    /** Runs {@code main} in a child JVM on the class path; returns its stdout, failing on a non-zero exit. */
    private static String run(Path tmp, String name, List<String> flags, Class<?> main, List<String> args)
            throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx128m"));
        cmd.addAll(flags);
        cmd.addAll(List.of("-cp", TestFiles.childClassPath(), main.getName()));
        cmd.addAll(args);
        Path out = tmp.resolve(name + ".out");
        Path err = tmp.resolve(name + ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), name + " did not finish");
        assertEquals(0, p.exitValue(), name + ": " + Files.readString(err));
        return Files.readString(out);
    }
}
