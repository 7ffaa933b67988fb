package io.mergestream.kernel.vector;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector species, chosen once. They are static finals so that C2 sees constants and keeps vectors in
 * registers (a species held in a field the JIT cannot fold boxes every vector). The width is
 * {@code FloatVector.SPECIES_PREFERRED}'s unless the system property {@code mergestream.vectorBits}
 * (128, 256 or 512) overrides it.
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

    private static int chosenBits() {
        int preferred = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        String forced = System.getProperty("mergestream.vectorBits");
        if (forced == null) return Math.max(preferred, 128);
        int bits = Integer.parseInt(forced.trim());
        if (bits != 128 && bits != 256 && bits != 512) {
            throw new IllegalArgumentException("mergestream.vectorBits must be 128, 256 or 512, got " + forced);
        }
        return bits;
    }
}
