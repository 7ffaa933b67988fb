package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.TestModels;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.TestCheckpoints;
import io.mergestream.plan.Planner;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * F64 and FP8 families are merged, not copied (issue 9: they used to "merge" into an exact copy of the base): F64
 * decoded to f32 (output F32 unless out_dtype says otherwise), FP8 decoded with its scales (per tensor, and
 * DeepSeek-V3's 128x128 weight_scale_inv blocks) into the recipe's bf16/f16/f32 out_dtype. Families are written with
 * the project's safetensors writer; FP8 encodings are computed here from the format's definition.
 */
class FloatInputsTest {

    @TempDir
    Path dir;

    static final String W = "model.layers.0.mlp.up_proj.weight";

    private static byte[] f64(double[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) b.putDouble(x);
        return b.array();
    }

    private static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    private Path model(String name, List<TestCheckpoints.Tensor> tensors) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        TestCheckpoints.write(d, tensors, Long.MAX_VALUE);
        Files.copy(Path.of("testdata", "tiny-llama", "base", "config.json"), d.resolve("config.json"));
        return d;
    }

    private static float[] read(Path model, String tensor, DType expected) {
        try (Checkpoint c = Checkpoint.open(model)) {
            StoredTensor t = c.tensor(tensor);
            assertEquals(expected, t.info().dtype(), tensor);
            return TestModels.decodeAll(t.data(), expected);
        }
    }

    @Test
    void anF64FamilyIsMergedInF32() throws IOException {
        int n = 37;
        Random rnd = new Random(5);
        double[] b = new double[n], x = new double[n], excluded = new double[n];
        for (int i = 0; i < n; i++) {
            b[i] = rnd.nextGaussian() * 0.1;
            x[i] = b[i] + rnd.nextGaussian() * 1e-3;
            excluded[i] = rnd.nextGaussian();
        }
        Path base = model("base64", List.of(new TestCheckpoints.Tensor(W, DType.F64, new long[] {n}, f64(b)),
                new TestCheckpoints.Tensor("lm_head.weight", DType.F64, new long[] {n}, f64(excluded)),
                new TestCheckpoints.Tensor("model.ids", DType.I64, new long[] {1}, new byte[] {7, 0, 0, 0, 0, 0, 0, 0})));
        Path ft = model("ft64", List.of(new TestCheckpoints.Tensor(W, DType.F64, new long[] {n}, f64(x)),
                new TestCheckpoints.Tensor("lm_head.weight", DType.F64, new long[] {n}, f64(x)),
                new TestCheckpoints.Tensor("model.ids", DType.I64, new long[] {1}, new byte[] {7, 0, 0, 0, 0, 0, 0, 0})));
        String body = "merge_method: task_arithmetic\nbase_model: BASE\nexclude: ['lm_head']\nmodels:\n"
                + "  - model: FT\n    parameters: {weight: 0.5}\n";
        Path out = MergeRuns.merge(dir, MergeRuns.recipe(dir, "f64", body, Map.of("BASE", base, "FT", ft)), "out64");
        float[] got = read(out, W, DType.F32);
        for (int i = 0; i < n; i++) {
            float fb = (float) b[i], fx = (float) x[i];
            assertEquals(fb + 1f * (0.5f * (fx - fb)), got[i], 0, "element " + i);
        }
        assertNotEquals((float) b[3], got[3], "the fine-tune is merged, not ignored");
        float[] ex = read(out, "lm_head.weight", DType.F32);
        for (int i = 0; i < n; i++) assertEquals((float) excluded[i], ex[i], 0, "excluded: the base's, in f32");
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(DType.I64, c.tensor("model.ids").info().dtype());
        }
        // out_dtype chooses another float type
        Path bf = MergeRuns.merge(dir, MergeRuns.recipe(dir, "f64bf", body + "out_dtype: bfloat16\n",
                Map.of("BASE", base, "FT", ft)), "out64bf");
        float[] gotBf = read(bf, W, DType.BF16);
        for (int i = 0; i < n; i++) assertEquals(TestModels.round(got[i], DType.BF16), gotBf[i], 0);
    }

    /** E4M3 (fn) bits of (-1)^s (1 + m/8) 2^e, for -6 <= e <= 8, from the format's definition (bias 7). */
    private static byte e4m3(int sign, int e, int m) {
        return (byte) (sign << 7 | (e + 7) << 3 | m);
    }

    private record Fp8(byte[] bytes, float[] values) {}

    private static Fp8 fp8(Random rnd, int n) {
        byte[] bytes = new byte[n];
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            int s = rnd.nextInt(2), e = rnd.nextInt(-6, 9), m = rnd.nextInt(8);
            if (e == 8 && m == 7) m = 6; // S.1111.111 is NaN
            bytes[i] = e4m3(s, e, m);
            values[i] = (float) ((s == 1 ? -1 : 1) * (1 + m / 8.0) * Math.pow(2, e));
        }
        return new Fp8(bytes, values);
    }

    @Test
    void fp8FamiliesAreDecodedWithTheirScales() throws IOException {
        int rows = 130, cols = 260; // 2 x 3 blocks of 128
        Random rnd = new Random(9);
        Fp8 b = fp8(rnd, rows * cols), x = fp8(rnd, rows * cols);
        float tensorScale = 0.0625f;
        float[] blocks = {0.5f, 0.25f, 2f, 1f, 0.125f, 4f};
        Path base = model("base8", List.of(
                new TestCheckpoints.Tensor(W, DType.F8_E4M3, new long[] {rows, cols}, b.bytes()),
                new TestCheckpoints.Tensor(W + "_scale", DType.F32, new long[] {}, f32(tensorScale)),
                new TestCheckpoints.Tensor("model.norm.weight", DType.BF16, new long[] {2}, new byte[] {(byte) 0x80, 0x3F, 0, 0x40})));
        Path ft = model("ft8", List.of(
                new TestCheckpoints.Tensor(W, DType.F8_E4M3, new long[] {rows, cols}, x.bytes()),
                new TestCheckpoints.Tensor(W + "_scale_inv", DType.F32, new long[] {2, 3}, f32(blocks)),
                new TestCheckpoints.Tensor("model.norm.weight", DType.BF16, new long[] {2}, new byte[] {(byte) 0x80, 0x3F, 0, 0x40})));
        String body = "merge_method: linear\nmodels:\n  - model: BASE\n    parameters: {weight: 0.25}\n"
                + "  - model: FT\n    parameters: {weight: 0.75}\n";
        Map<String, Path> models = Map.of("BASE", base, "FT", ft);
        // without an output dtype: a recipe error, one line naming the model and out_dtype
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> Planner.plan(Recipe.load(MergeRuns.recipe(dir, "noout", body, models)), 0).close());
        assertTrue(e.getMessage().contains("FP8") && e.getMessage().contains("out_dtype"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        Path out = MergeRuns.merge(dir, MergeRuns.recipe(dir, "fp8", body + "out_dtype: float32\n", models), "out8");
        float[] got = read(out, W, DType.F32);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                float vb = b.values()[i] * tensorScale;
                float vx = x.values()[i] * blocks[(r / 128) * 3 + c / 128];
                float expected = (0.25f * vb + 0.75f * vx) / (0.25f + 0.75f);
                assertEquals(expected, got[i], 0, "(" + r + ", " + c + ")");
            }
        }
        try (Checkpoint c = Checkpoint.open(out)) {
            assertNull(c.tensor(W + "_scale"), "scales are folded into the weights, not written");
            assertNull(c.tensor(W + "_scale_inv"));
            assertEquals(DType.F32, c.tensor("model.norm.weight").info().dtype(), "out_dtype applies to every float tensor");
        }
    }

    @Test
    void anFp8TensorWithoutItsScaleIsAnError() throws IOException {
        Random rnd = new Random(1);
        Fp8 b = fp8(rnd, 4);
        Path base = model("b", List.of(new TestCheckpoints.Tensor(W, DType.F8_E4M3, new long[] {2, 2}, b.bytes()),
                new TestCheckpoints.Tensor(W + "_scale", DType.F32, new long[] {1}, f32(1f))));
        Path ft = model("f", List.of(new TestCheckpoints.Tensor(W, DType.F8_E4M3, new long[] {2, 2}, b.bytes())));
        String body = "merge_method: task_arithmetic\nbase_model: BASE\nout_dtype: bfloat16\nmodels:\n  - model: FT\n"
                + "    parameters: {weight: 1.0}\n";
        MergestreamException e = assertThrows(MergestreamException.class, () -> Planner.plan(
                Recipe.load(MergeRuns.recipe(dir, "noscale", body, Map.of("BASE", base, "FT", ft))), 0).close());
        assertTrue(e.getMessage().contains("'" + W + "'") && e.getMessage().contains("without a scale"), e.getMessage());
        List<String> lines = new ArrayList<>(e.getMessage().lines().toList());
        assertEquals(1, lines.size());
    }
}
