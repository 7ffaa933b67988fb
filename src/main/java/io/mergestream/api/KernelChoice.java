package io.mergestream.api;

import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.VectorSupport;
import java.util.Optional;

/**
 * Which merge kernel this JVM runs: the Vector API kernel where HotSpot's C2 compiles it at a width the CPU has
 * (and the program added {@code jdk.incubator.vector}), else the scalar kernel, which gives the same bits.
 */
public final class KernelChoice {

    private KernelChoice() {}

    /**
     * The kernel a merge with the automatic choice runs here: {@code "vector"} or {@code "scalar"}. The first
     * call decides, once per JVM; when it is scalar it logs one line saying why.
     *
     * @return the kernel's name
     */
    public static String automatic() {
        return Kernels.best().name();
    }

    /**
     * Why the vector kernel does not run here.
     *
     * @return the reason (e.g. the module was not added), or empty when it runs
     */
    public static Optional<String> whyNotVector() {
        return VectorSupport.unusableReason();
    }
}
