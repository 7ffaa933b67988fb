package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.kernel.DareMask;
import io.mergestream.tensor.DType;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dare --target weights}: the fine-tuned parameters themselves dropped by the keep-mask, element by element. */
class DareWeightsTest {

    @TempDir
    Path dir;

    @Test
    void dropsTheWeightsByTheMaskAndRescales() {
        Random rnd = new Random(5);
        float[] w = ToolboxDareTest.gaussian(rnd, 40 * 70, 0.05f);
        String name = "model.layers.0.mlp.up_proj.weight";
        Path ft = TestModels.write(dir.resolve("ft"), DType.BF16, new TestModels.Model().put(name, new long[] {40, 70}, w)
                .put("lm_head.weight", new long[] {4, 70}, ToolboxDareTest.gaussian(rnd, 280, 0.05f)));
        for (String rescale : new String[] {"inverse", "none"}) {
            Path out = dir.resolve("out-" + rescale);
            CliRun r = CliRun.of("dare", "--target", "weights", "--model", ft.toString(), "--drop-rate", "0.1",
                    "--rescale", rescale, "--seed", "3", "--exclude", "lm_head\\.", "-q", "-o", out.toString());
            assertEquals(0, r.code(), r.err());
            float[] x = ToolboxDareTest.read(ft, name);
            float[] o = ToolboxDareTest.read(out, name);
            long key = DareMask.streamKey(3, 0, name);
            long threshold = DareMask.threshold(0.9);
            int dropped = 0;
            for (int i = 0; i < x.length; i++) {
                boolean keep = DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold);
                float expected = keep ? TestModels.round(rescale.equals("inverse") ? x[i] / 0.9f : x[i], DType.BF16) : 0f;
                assertEquals(expected, o[i], name + "[" + i + "]");
                if (!keep) dropped++;
            }
            assertTrue(dropped > x.length / 20 && dropped < x.length / 5, "about 10% dropped: " + dropped);
            // excluded tensors are the fine-tune's own
            assertEquals(java.util.Arrays.toString(ToolboxDareTest.read(ft, "lm_head.weight")),
                    java.util.Arrays.toString(ToolboxDareTest.read(out, "lm_head.weight")));
        }
    }

    @Test
    void weightsTargetTakesNoBaseAndDeltaNeedsOne() {
        CliRun r = CliRun.of("dare", "--target", "weights", "--base", dir.toString(), "--model", dir.toString(),
                "--density", "0.5", "-o", dir.resolve("x").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("leave out --base"), r.err());
        CliRun d = CliRun.of("dare", "--model", dir.toString(), "--density", "0.5", "-o", dir.resolve("y").toString());
        assertEquals(2, d.code(), d.err());
        assertTrue(d.err().contains("--base B is required"), d.err());
    }
}
