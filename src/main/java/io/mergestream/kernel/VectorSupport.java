package io.mergestream.kernel;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.util.Optional;
import java.util.function.Function;

/**
 * Whether this JVM can run the Vector API kernel well, decided once before any vector class is loaded (the
 * checks Lucene's VectorizationProvider makes, for the same reasons). The Vector API is fast only where C2
 * intrinsifies it; anywhere else every vector is a heap object, and the "vector" kernel runs many times slower
 * than the scalar one (a 400 MB merge under {@code -XX:TieredStopAtLevel=1}: 112.6 s against 15.9 s). So the
 * vector kernel is chosen only when
 * <ul>
 * <li>the {@code jdk.incubator.vector} module is in the boot layer;</li>
 * <li>the VM is HotSpot with its C2 compiler: not interpreted ({@code -Xint}), not stopped below tier 4
 *     ({@code -XX:TieredStopAtLevel=1..3}), not a JVMCI (Graal) compiler, which does not intrinsify it;</li>
 * <li>the hardware's preferred vector shape is at least 128 bits (smaller shapes are emulated);</li>
 * <li>a width forced with the test knob {@code mergestream.vectorBits} is one the hardware has (a wider
 *     one is emulated). The knob exists for the tests at narrow widths; it never widens anything.</li>
 * </ul>
 * Otherwise {@link #unusableReason()} says why, in words a user can act on.
 */
public final class VectorSupport {

    /** The test knob that narrows the vector kernel's width (128, 256 or 512 bits). */
    public static final String BITS_PROPERTY = "mergestream.vectorBits";

    private VectorSupport() {}

    /** Why the vector kernel must not run here, or empty when it may. */
    public static Optional<String> unusableReason() {
        if (!Kernels.vectorAvailable()) {
            return Optional.of("jdk.incubator.vector is not available (run java with --add-modules jdk.incubator.vector)");
        }
        return reason(System.getProperty("java.vm.name", ""), System.getProperty("java.vm.info", ""),
                VectorSupport::vmOption, PreferredWidth.bits(), System.getProperty(BITS_PROPERTY));
    }

    /**
     * The decision on plain values, so that tests can show each refusal: {@code option} reads a HotSpot VM
     * option (null when it does not exist), {@code preferredBits} is the preferred species' width, {@code
     * forcedBits} the test knob's value or null.
     */
    static Optional<String> reason(String vmName, String vmInfo, Function<String, String> option,
                                   int preferredBits, String forcedBits) {
        if (!vmName.contains("HotSpot") && !vmName.contains("OpenJDK")) {
            return Optional.of("the Java VM is " + vmName + ", not HotSpot, whose C2 compiler the Vector API needs");
        }
        if (vmInfo.contains("interpreted mode") || "false".equals(option.apply("UseCompiler"))) {
            return Optional.of("the JIT compiler is off (-Xint)");
        }
        // -XX:TieredStopAtLevel=1 also makes java.vm.info say "emulated-client": name the flag first
        String stop = option.apply("TieredStopAtLevel");
        if (!"false".equals(option.apply("TieredCompilation")) && stop != null && parseOr(stop, 4) < 4) {
            return Optional.of("the C2 compiler is disabled (-XX:TieredStopAtLevel=" + stop + ")");
        }
        if (vmInfo.contains("emulated-client")) {
            return Optional.of("the VM emulates a client VM (no C2 compiler)");
        }
        if ("true".equals(option.apply("UseJVMCICompiler"))) {
            return Optional.of("a JVMCI compiler replaces C2 (-XX:+UseJVMCICompiler), and it does not compile the Vector API well");
        }
        if (preferredBits < 128) {
            return Optional.of("this CPU's vectors are " + preferredBits + " bits; the vector kernel needs at least 128");
        }
        if (forcedBits != null) {
            int bits = parseOr(forcedBits.trim(), -1);
            if (bits != 128 && bits != 256 && bits != 512) {
                return Optional.of(BITS_PROPERTY + " must be 128, 256 or 512, not '" + forcedBits + "'");
            }
            if (bits > preferredBits) {
                return Optional.of(BITS_PROPERTY + "=" + bits + " is wider than this CPU's " + preferredBits
                        + "-bit vectors (it would be emulated)");
            }
        }
        return Optional.empty();
    }

    /** The width the vector kernel uses: the knob's (already checked) or the preferred one. */
    public static int chosenBits(int preferredBits) {
        String forced = System.getProperty(BITS_PROPERTY);
        return forced == null ? preferredBits : Integer.parseInt(forced.trim());
    }

    private static int parseOr(String s, int fallback) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private static String vmOption(String name) {
        try {
            return ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).getVMOption(name).getValue();
        } catch (IllegalArgumentException e) {
            return null; // this VM has no such option (e.g. UseJVMCICompiler on a build without JVMCI)
        }
    }

    /**
     * The preferred species' width, read through the vector module only when it is present (this class must load
     * without it). Reflection keeps jdk.incubator.vector out of this class's constant pool.
     */
    private static final class PreferredWidth {
        static int bits() {
            try {
                Class<?> shape = Class.forName("jdk.incubator.vector.VectorShape");
                Object preferred = shape.getMethod("preferredShape").invoke(null);
                return (int) shape.getMethod("vectorBitSize").invoke(preferred);
            } catch (ReflectiveOperationException e) {
                return 0;
            }
        }
    }
}
