package io.mergestream.kernel;

/**
 * Picks a {@link MergeKernel}. The vector kernel is loaded reflectively and only when {@link VectorSupport}
 * says this JVM compiles it well (the module is present, C2 runs, the width is real), so that otherwise no
 * vector class is ever touched and the scalar kernel runs alone, after one line saying why.
 */
public final class Kernels {
    private static final String VECTOR_KERNEL = "io.mergestream.kernel.vector.VectorKernel";

    private Kernels() {}

    /** Whether the Vector API module was resolved at startup. */
    public static boolean vectorAvailable() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** The fastest kernel this JVM can run. */
    public static MergeKernel best() {
        return Best.KERNEL;
    }

    public static MergeKernel scalar() {
        return Scalar.KERNEL;
    }

    /**
     * "scalar", "vector", "auto" (= {@link #best()}) or "native" (the C yardstick, {@link NativeKernel}, when
     * native/build.sh has built its library; an IllegalArgumentException saying why when it has not). In a JVM
     * without native access for mergestream's module, "native" is {@link #best()} after one warning.
     */
    public static MergeKernel byName(String name) {
        return switch (name) {
            case "scalar" -> scalar();
            case "auto" -> best();
            case "vector" -> {
                java.util.Optional<String> why = VectorSupport.unusableReason();
                if (why.isPresent()) {
                    throw new io.mergestream.MergestreamException("--kernel vector cannot run well here: " + why.get()
                            + "; choose the scalar kernel");
                }
                yield best();
            }
            case "native" -> {
                if (!NativeKernel.nativeAccessEnabled()) {
                    // an embedding JVM started without --enable-native-access: the Java kernel, and one line saying so
                    MergeKernel fallback = best();
                    io.mergestream.Warnings.warn(NativeKernel.unavailableReason() + "; using the " + fallback.name()
                            + " kernel instead");
                    yield fallback;
                }
                if (!NativeKernel.isAvailable()) throw new IllegalArgumentException(NativeKernel.unavailableReason());
                yield NativeKernel.instance();
            }
            case null, default -> throw new IllegalArgumentException(
                    "unknown kernel '" + name + "': choose scalar, vector or auto (or native, the C yardstick)");
        };
    }

    private static final class Scalar {
        static final MergeKernel KERNEL = new ScalarKernel();
    }

    /** Resolved on first use, once. */
    private static final class Best {
        static final MergeKernel KERNEL = choose();

        private static MergeKernel choose() {
            java.util.Optional<String> why = VectorSupport.unusableReason();
            if (why.isPresent()) {
                io.mergestream.Warnings.note("using the scalar kernel: " + why.get());
                return Scalar.KERNEL;
            }
            try {
                return (MergeKernel) Class.forName(VECTOR_KERNEL).getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot load " + VECTOR_KERNEL, e);
            }
        }
    }
}
