package io.mergestream.kernel.vector;

import io.mergestream.kernel.VectorSupport;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species, chosen once. They are static finals so that C2 sees constants and keeps vectors in
 * registers (a species held in a field the JIT cannot fold boxes every vector). The width is
 * {@code FloatVector.SPECIES_PREFERRED}'s unless the test knob {@code mergestream.vectorBits} narrows it
 * (see {@link VectorSupport}).
 */
final class Lanes {
    static final int BITS = chosenBits();
    /** f32 lanes and the int lanes of the same shape (bit tricks and the DARE hash). */
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorShape.forBitSize(BITS));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorShape.forBitSize(BITS));
    /** Half-width shorts: as many lanes as F, so bf16/f16 widen and narrow without splitting vectors. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(BITS / 2));
    static final int N = F.length();
    /** 0, 1, 2 ... N-1: lane offsets within a vector. */
    static final IntVector IOTA = IntVector.zero(I).addIndex(1);

    private Lanes() {}

    /**
     * The preferred width, or the narrower one the test knob asks for. Kernels.VectorSupport has refused this
     * kernel before it loads wherever that width would not be real hardware (below 128 bits, or a knob wider
     * than the CPU): nothing here forces a width the CPU lacks.
     */
    private static int chosenBits() {
        return VectorSupport.chosenBits(FloatVector.SPECIES_PREFERRED.vectorBitSize());
    }
}
