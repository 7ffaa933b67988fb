package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class KernelsTest {
    @Test
    void byNameKnowsScalarVectorAndAuto() {
        assertEquals("scalar", Kernels.byName("scalar").name());
        assertEquals("vector", Kernels.byName("vector").name());
        assertEquals(Kernels.best(), Kernels.byName("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.byName("simd"));
        assertTrue(e.getMessage().contains("scalar, vector or auto"), e.getMessage());
    }

    @Test
    void nonFloatTensorsAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            TensorView ints = new TensorView(arena.allocate(64), DType.I32);
            TensorView floats = new TensorView(arena.allocate(64), DType.F32);
            for (MergeKernel kernel : new MergeKernel[]{Kernels.scalar(), Kernels.byName("vector")}) {
                assertThrows(IllegalArgumentException.class, () -> kernel.convert(ints, floats, 0, 16));
                assertThrows(IllegalArgumentException.class, () -> kernel.convert(floats, floats, 10, 16));
            }
        }
    }
}
