package io.mergestream.bench;

import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.MergeKernel;
import java.util.ArrayList;
import java.util.List;

/** The kernel implementations by name, and which of them this JVM can run. */
final class Implementations {
    static final List<String> ALL = List.of("scalar", "vector", "native");

    private Implementations() {}

    /** The kernel, or an exception saying why it cannot run here. */
    static MergeKernel load(String name) {
        MergeKernel kernel = Kernels.byName(name);
        // Kernels.byName("vector") falls back to nothing silently, but check what we got anyway.
        if (!kernel.name().equals(name)) {
            throw new IllegalStateException("asked for the " + name + " kernel, got " + kernel.name());
        }
        return kernel;
    }

    /** Whether {@link #load} works: "native" needs the C library, "vector" the incubator module. */
    static boolean available(String name) {
        try {
            load(name);
            return true;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    static List<String> available() {
        List<String> names = new ArrayList<>();
        for (String n : ALL) if (available(n)) names.add(n);
        return names;
    }
}
