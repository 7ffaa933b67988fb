package io.mergestream.bench;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.List;
import java.util.Locale;

/**
 * HOOK for the native kernel's STREAM figures (copy and triad bandwidth of this machine), printed by
 * bench/e2e.sh next to the merge's own bytes per second.
 *
 * <p>The native kernel (NativeKernel, issue 4's "native" part) is written in parallel and was not merged when
 * this was written, so its API is looked up by reflection: a public static {@code streamCopy} and
 * {@code streamTriad} in {@code io.mergestream.kernel.NativeKernel} (or a {@code nativ}/{@code natives}
 * subpackage), taking nothing, the thread count (int), the array size in bytes (long), or both, and
 * returning GB/s (double) or anything printable. Without it this prints one line saying so. Once NativeKernel
 * is merged, replace the reflection below by direct calls.
 */
public final class StreamFigures {
    private static final List<String> CLASSES = List.of("io.mergestream.kernel.NativeKernel",
            "io.mergestream.kernel.nativ.NativeKernel", "io.mergestream.kernel.natives.NativeKernel");
    /** Bytes per STREAM array: far beyond the 32 MB L3 of the reference machine. */
    private static final long ARRAY_BYTES = 256L << 20;

    private StreamFigures() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        Class<?> nativeKernel = null;
        for (String name : CLASSES) {
            try {
                nativeKernel = Class.forName(name);
                break;
            } catch (ClassNotFoundException | LinkageError e) {
                // try the next name
            }
        }
        if (nativeKernel == null) {
            System.out.println("e2e: STREAM figures: not available (no NativeKernel in this build; hook in"
                    + " bench/src/main/java/io/mergestream/bench/StreamFigures.java)");
            return;
        }
        for (String name : List.of("streamCopy", "streamTriad")) {
            System.out.println("e2e: STREAM " + name + ": " + call(nativeKernel, name, threads));
        }
    }

    private static String call(Class<?> type, String name, int threads) {
        for (Method m : type.getMethods()) {
            if (!m.getName().equals(name) || !Modifier.isStatic(m.getModifiers())) continue;
            Class<?>[] p = m.getParameterTypes();
            Object[] args;
            if (p.length == 0) args = new Object[0];
            else if (p.length == 1 && p[0] == int.class) args = new Object[]{threads};
            else if (p.length == 1 && p[0] == long.class) args = new Object[]{ARRAY_BYTES};
            else if (p.length == 2 && p[0] == long.class && p[1] == int.class) args = new Object[]{ARRAY_BYTES, threads};
            else if (p.length == 2 && p[0] == int.class && p[1] == long.class) args = new Object[]{threads, ARRAY_BYTES};
            else continue;
            try {
                Object r = m.invoke(null, args);
                return r instanceof Double d ? String.format(Locale.ROOT, "%.2f GB/s (%d threads)", d, threads)
                        : String.valueOf(r);
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                return "failed: " + e;
            }
        }
        return "no static " + name + " with a signature this hook knows: adapt StreamFigures";
    }
}
