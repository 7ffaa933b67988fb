package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A boxed vector shows up as allocation: once C2 has compiled the kernel, a dare_ties of 3 bf16 models over
 * 2 Mi elements allocates almost nothing (the per-call stage objects: measured 0.004 B/element), while a
 * kernel whose vectors escape allocates tens to thousands of bytes per element (measured: 1710 B/element
 * under -XX:TieredStopAtLevel=1, i.e. 3.6 GB here). The probe runs in a JVM of its own, as a merge does, so
 * that the profiles other tests leave in this JVM do not decide what C2 compiles. At the test knob's width,
 * when the build runs the vector tests at 128 and 256 bits.
 */
@Tag("vector-width")
class VectorAllocationTest {

    @Test
    void theWarmVectorKernelAllocatesUnderOneMegabytePerTwoMebiElements() throws Exception {
        assertProbeUnderLimit("dare_ties");
    }

    /** Linear of one f16 model: its loops were inlined into one and boxed, 77 MB per 2 Mi elements (issue 13). */
    @Test
    void theWarmF16LinearAllocatesUnderOneMegabytePerTwoMebiElements() throws Exception {
        assertProbeUnderLimit("linear-f16");
    }

    private static void assertProbeUnderLimit(String kind) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx256m"));
        String forced = System.getProperty(VectorSupport.BITS_PROPERTY);
        if (forced != null) cmd.add("-D" + VectorSupport.BITS_PROPERTY + "=" + forced);
        cmd.addAll(List.of("-cp", io.mergestream.TestFiles.childClassPath(), VectorAllocationProbe.class.getName(), kind));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), output);
        assertEquals(0, p.exitValue(), output);
        Matcher m = Pattern.compile("bits (\\d+) least (\\d+)").matcher(output);
        assertTrue(m.find(), output);
        if (forced != null) assertEquals(Integer.parseInt(forced), Integer.parseInt(m.group(1)), "the knob's width is in force");
        long least = Long.parseLong(m.group(2));
        assertTrue(least < VectorAllocationProbe.LIMIT, kind + ": the warm vector kernel allocated " + least + " bytes for "
                + VectorAllocationProbe.N + " elements (" + output.strip() + ")");
    }
}
