package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.cli.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vector kernel runs only where C2 compiles it at a real width; everywhere else the scalar kernel, after one
 * line that says why. Each refusal is shown on plain values, and the two a user meets (C1 only, a knob wider than
 * the CPU) once more in a real JVM started with those flags.
 */
class VectorSupportTest {

    private static final String HOTSPOT = "OpenJDK 64-Bit Server VM";

    private static Optional<String> decide(String vmInfo, Map<String, String> options, int preferred, String forced) {
        return VectorSupport.reason(HOTSPOT, vmInfo, options::get, preferred, forced);
    }

    @Test
    void aServerVmWithC2AndARealWidthMayRunIt() {
        Map<String, String> c2 = Map.of("UseCompiler", "true", "TieredCompilation", "true", "TieredStopAtLevel", "4");
        assertEquals(Optional.empty(), decide("mixed mode, sharing", c2, 256, null));
        assertEquals(Optional.empty(), decide("mixed mode", c2, 256, "128"));
        assertEquals(Optional.empty(), decide("mixed mode", c2, 512, "256"));
        // -XX:-TieredCompilation runs C2 alone: TieredStopAtLevel is then meaningless
        assertEquals(Optional.empty(), decide("mixed mode", Map.of("TieredCompilation", "false", "TieredStopAtLevel", "1"), 256, null));
    }

    @Test
    void everyWayOfLosingC2OrARealWidthIsRefusedWithItsReason() {
        Map<String, String> c2 = Map.of("TieredCompilation", "true", "TieredStopAtLevel", "4");
        assertTrue(decide("interpreted mode, sharing", c2, 256, null).orElseThrow().contains("-Xint"));
        assertTrue(decide("mixed mode", Map.of("UseCompiler", "false"), 256, null).orElseThrow().contains("-Xint"));
        assertTrue(decide("emulated-client, sharing", c2, 256, null).orElseThrow().contains("client"));
        for (String level : new String[] {"0", "1", "2", "3"}) {
            String why = decide("mixed mode", Map.of("TieredCompilation", "true", "TieredStopAtLevel", level), 256, null)
                    .orElseThrow();
            assertTrue(why.contains("TieredStopAtLevel=" + level), why);
        }
        assertTrue(decide("mixed mode", Map.of("UseJVMCICompiler", "true"), 256, null).orElseThrow().contains("JVMCI"));
        assertTrue(decide("mixed mode", c2, 64, null).orElseThrow().contains("64 bits"));
        assertTrue(decide("mixed mode", c2, 256, "512").orElseThrow().contains("wider than this CPU's 256-bit"));
        assertTrue(decide("mixed mode", c2, 256, "96").orElseThrow().contains("128, 256 or 512"));
        assertTrue(VectorSupport.reason("Eclipse OpenJ9 VM", "", c2::get, 256, null).orElseThrow().contains("not HotSpot"));
    }

    @Test
    void c1OnlyAndATooWideKnobMergeWithTheScalarKernelAfterOneLine(@TempDir Path tmp) throws Exception {
        Run c1 = merge(tmp.resolve("c1"), "-XX:TieredStopAtLevel=1");
        assertEquals(0, c1.exit, c1.output);
        assertTrue(c1.output.contains("mergestream: using the scalar kernel: the C2 compiler is disabled (-XX:TieredStopAtLevel=1)"), c1.output);
        assertTrue(c1.output.contains("scalar kernel, 1 threads"), c1.output);

        int preferred = jdk.incubator.vector.VectorShape.preferredShape().vectorBitSize();
        if (preferred < 512) {
            Run wide = merge(tmp.resolve("wide"), "-D" + VectorSupport.BITS_PROPERTY + "=512");
            assertEquals(0, wide.exit, wide.output);
            assertTrue(wide.output.contains("is wider than this CPU's " + preferred + "-bit vectors"), wide.output);
            assertTrue(wide.output.contains("scalar kernel, 1 threads"), wide.output);
        }

        Run explicit = merge(tmp.resolve("explicit"), "-XX:TieredStopAtLevel=1", "--kernel", "vector");
        assertEquals(Main.EXIT_BAD_INPUT, explicit.exit, explicit.output);
        assertTrue(explicit.output.contains("--kernel vector cannot run well here: the C2 compiler is disabled"), explicit.output);
    }

    private record Run(int exit, String output) {}

    /** {@code mergestream merge} of the bundled tiny family in a JVM with {@code flags} (JVM flags first, then CLI options). */
    private static Run merge(Path out, String... flags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx128m"));
        List<String> cli = new ArrayList<>();
        for (String f : flags) (f.startsWith("-X") || f.startsWith("-D") ? cmd : cli).add(f);
        cmd.addAll(List.of("-cp", io.mergestream.TestFiles.childClassPath(), Main.class.getName(), "merge",
                "testdata/recipes/dare_ties.yml", "-o", out.toString(), "-q", "--threads", "1"));
        cmd.addAll(cli);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the merge did not finish: " + output);
        return new Run(p.exitValue(), output);
    }
}
