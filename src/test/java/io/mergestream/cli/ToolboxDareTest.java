package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import io.mergestream.kernel.DareMask;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mergestream dare} against its defining property, element by element. */
class ToolboxDareTest {

    static final String UP = "model.layers.0.mlp.up_proj.weight";
    static final String Q = "model.layers.0.self_attn.q_proj.weight";
    static final String HEAD = "lm_head.weight";
    static final String SCORE = "score.weight";
    static final List<String> MERGED = List.of(UP, Q);

    @TempDir
    static Path dir;

    static Path base;
    static Path ft;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @BeforeAll
    static void write() throws IOException {
        Random rnd = new Random(3);
        float[] up = gaussian(rnd, 64 * 64, 0.02f);
        float[] q = gaussian(rnd, 32 * 64, 0.02f);
        float[] head = gaussian(rnd, 16 * 64, 0.02f);
        base = TestModels.write(dir.resolve("base"), DType.BF16, new TestModels.Model()
                .put(UP, new long[] {64, 64}, up).put(Q, new long[] {32, 64}, q).put(HEAD, new long[] {16, 64}, head));
        ft = TestModels.write(dir.resolve("ft"), DType.BF16, new TestModels.Model()
                .put(UP, new long[] {64, 64}, perturb(rnd, up)).put(Q, new long[] {32, 64}, perturb(rnd, q))
                .put(HEAD, new long[] {16, 64}, perturb(rnd, head)).put(SCORE, new long[] {3, 64}, gaussian(rnd, 192, 1f)),
                20000); // sharded
        Files.writeString(ft.resolve("config.json"), "{\"architectures\": [\"FineTuned\"], \"torch_dtype\": \"bfloat16\"}");
        Files.writeString(ft.resolve("tokenizer.json"), "{\"fine\": \"tune\"}");
        Files.writeString(base.resolve("config.json"), "{\"architectures\": [\"Base\"]}");
    }

    static float[] gaussian(Random rnd, int n, float s) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rnd.nextGaussian() * s;
        return v;
    }

    /** Quantised deltas: equal magnitudes (ties) and zeros are common. */
    static float[] perturb(Random rnd, float[] v) {
        float[] out = v.clone();
        for (int i = 0; i < v.length; i++) out[i] = v[i] + (rnd.nextInt(11) - 5) * 0.002f;
        return out;
    }

    static float[] read(Path model, String name) {
        try (Checkpoint c = Checkpoint.open(model)) {
            StoredTensor t = c.tensor(name);
            return TestModels.decodeAll(t.data(), t.info().dtype());
        }
    }

    static byte[] bytes(Path model, String name) {
        try (Checkpoint c = Checkpoint.open(model)) {
            return c.tensor(name).data().toArray(ValueLayout.JAVA_BYTE);
        }
    }

    static Path dare(String out, String... extra) {
        Path o = dir.resolve(out);
        List<String> args = new ArrayList<>(List.of("dare", "--base", base.toString(), "--model", ft.toString(),
                "-o", o.toString(), "-q", "--force"));
        args.addAll(List.of(extra));
        CliRun r = run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return o;
    }

    static float kept(float b, float x, float density, boolean rescale) {
        float d = x - b;
        return TestModels.round(b + (rescale ? d / density : d), DType.BF16);
    }

    @Test
    void randomKeepsTheDareMaskAndRescales() throws IOException {
        Path out = dare("random", "--drop-rate", "0.7", "--exclude", "lm_head\\.", "--exclude", "score\\.",
                "--seed", "5", "--threads", "2");
        long kept = 0;
        long decided = 0;
        for (String name : MERGED) {
            float[] b = read(base, name);
            float[] x = read(ft, name);
            float[] o = read(out, name);
            long key = DareMask.streamKey(5, 0, name);
            long threshold = DareMask.threshold(0.3);
            for (int i = 0; i < o.length; i++) {
                float keep = kept(b[i], x[i], 0.3f, true);
                boolean isBase = o[i] == b[i];
                assertTrue(isBase || o[i] == keep, name + "[" + i + "] is neither base nor base + delta/density");
                boolean mask = DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold);
                assertEquals(mask ? keep : b[i], o[i], name + "[" + i + "] follows the keep-mask");
                if (keep != b[i]) {
                    decided++;
                    if (!isBase) kept++;
                }
            }
        }
        double frac = (double) kept / decided;
        double sigma = Math.sqrt(0.3 * 0.7 / decided);
        assertTrue(Math.abs(frac - 0.3) < 4 * sigma, "kept fraction " + frac + " of " + decided);
        assertArrayEquals(bytes(ft, HEAD), bytes(out, HEAD), "excluded: the fine-tune's own bytes");
        assertArrayEquals(bytes(ft, SCORE), bytes(out, SCORE), "excluded and only in the fine-tune");
        assertTrue(Files.readString(out.resolve("config.json")).contains("FineTuned"), "config from the fine-tune");
        assertTrue(Files.exists(out.resolve("tokenizer.json")), "tokenizer from the fine-tune");
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.contains("`dare`") && card.contains("seed 5") && card.contains("mergestream dare --base"), card);
    }

    @Test
    void noRescaleKeepsDeltasAsTheyAre() {
        Path out = dare("norescale", "--density", "0.5", "--no-rescale", "--exclude", "lm_head\\.|score\\.");
        float[] b = read(base, UP);
        float[] x = read(ft, UP);
        float[] o = read(out, UP);
        for (int i = 0; i < o.length; i++) {
            assertTrue(o[i] == b[i] || o[i] == kept(b[i], x[i], 0.5f, false), "element " + i);
        }
    }

    @Test
    void rescaleNoneIsNoRescaleAndL1KeepsEachTensorsL1Norm() throws IOException {
        Path none = dare("rescale-none", "--density", "0.3", "--rescale", "none", "--exclude", "lm_head\\.|score\\.");
        Path alias = dare("rescale-alias", "--density", "0.3", "--no-rescale", "--exclude", "lm_head\\.|score\\.");
        Path inverse = dare("rescale-inverse", "--density", "0.3", "--rescale", "inverse", "--exclude", "lm_head\\.|score\\.");
        Path byDefault = dare("rescale-default", "--density", "0.3", "--exclude", "lm_head\\.|score\\.");
        Path l1 = dare("rescale-l1", "--density", "0.3", "--rescale", "l1", "--exclude", "lm_head\\.|score\\.");
        for (String name : MERGED) {
            assertArrayEquals(bytes(none, name), bytes(alias, name), name + ": --no-rescale is --rescale none");
            assertArrayEquals(bytes(inverse, name), bytes(byDefault, name), name + ": the paper's inverse is the default");
            float[] b = read(base, name);
            float[] x = read(ft, name);
            float[] o = read(l1, name);
            long key = DareMask.streamKey(0, 0, name);
            // mergekit's rule, written as it is: kept delta times sum|delta| / sum|kept delta| over the tensor
            double all = 0, kept = 0;
            boolean[] keep = new boolean[b.length];
            for (int i = 0; i < b.length; i++) {
                keep[i] = DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), DareMask.threshold(0.3));
                all += Math.abs(x[i] - b[i]);
                if (keep[i]) kept += Math.abs(x[i] - b[i]);
            }
            double factor = all / kept;
            assertTrue(factor > 2.5 && factor < 4.5, name + ": about 1/density: " + factor);
            for (int i = 0; i < b.length; i++) {
                double expected = keep[i] ? b[i] + (x[i] - b[i]) * factor : b[i];
                // one bf16 rounding of the output (relative 2^-8), nothing more
                assertEquals(expected, o[i], Math.abs(expected) * 0x1p-8 + 1e-30, name + "[" + i + "]");
            }
        }
        String card = Files.readString(l1.resolve("README.md"));
        assertTrue(card.contains("--rescale l1") && card.contains("L1 norm"), card);
    }

    @Test
    void magnitudeKeepsExactlyTheLargestDeltas() {
        Path out = dare("magnitude", "--density", "0.25", "--strategy", "magnitude", "--exclude", "lm_head\\.|score\\.",
                "--chunk-size", "300");
        for (String name : MERGED) {
            float[] b = read(base, name);
            float[] x = read(ft, name);
            float[] o = read(out, name);
            int n = b.length;
            int k = (int) Math.floor(0.25 * n);
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) order[i] = i;
            java.util.Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -Math.abs(x[i] - b[i]))
                    .thenComparingInt(i -> i));
            boolean[] keep = new boolean[n];
            for (int r = 0; r < k; r++) keep[order[r]] = true;
            for (int i = 0; i < n; i++) {
                float expected = keep[i] ? kept(b[i], x[i], 0.25f, true) : b[i];
                assertEquals(expected, o[i], name + "[" + i + "] (kept " + keep[i] + ")");
            }
        }
    }

    @Test
    void outputDoesNotDependOnThreadsOrChunks() {
        Path a = dare("t1", "--density", "0.4", "--exclude", "score\\.", "--threads", "1");
        Path b = dare("t2", "--density", "0.4", "--exclude", "score\\.", "--threads", "2", "--chunk-size", "77");
        for (String name : List.of(UP, Q, HEAD, SCORE)) assertArrayEquals(bytes(a, name), bytes(b, name), name);
    }

    static void assertBadInput(String message, String... extra) {
        Path o = dir.resolve("bad");
        List<String> args = new ArrayList<>(List.of("dare", "--base", base.toString(), "--model", ft.toString(),
                "-o", o.toString(), "-q"));
        args.addAll(List.of(extra));
        CliRun r = run(args.toArray(String[]::new));
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(message), r.err());
        assertFalse(Files.exists(o), "nothing written");
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".bad")), "no staging left");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void badInputExitsTwoAndWritesNothing() throws IOException {
        assertBadInput("exactly one of", "--density", "0.5", "--drop-rate", "0.5", "--exclude", "score\\.");
        assertBadInput("exactly one of", "--exclude", "score\\.");
        assertBadInput("--drop-rate 1 is outside [0, 1)", "--drop-rate", "1", "--exclude", "score\\.");
        assertBadInput("--density 0 is outside (0, 1]", "--density", "0", "--exclude", "score\\.");
        assertBadInput("--density 1.5 is outside (0, 1]", "--density", "1.5", "--exclude", "score\\.");
        assertBadInput("is not a number", "--density", "half", "--exclude", "score\\.");
        assertBadInput("Invalid value for option '--strategy': must be random or magnitude, not 'top'", "--density", "0.5", "--strategy", "top", "--exclude", "score\\.");
        assertBadInput("'score.weight' is missing from the base", "--density", "0.5");
        assertBadInput("Invalid value for option '--exclude' (REGEX): '(' is not a valid regex", "--density", "0.5", "--exclude", "(");
        assertBadInput("Invalid value for option '--target': must be delta or weights, not 'bias'", "--density", "0.5",
                "--target", "bias");
        assertBadInput("Invalid value for option '--rescale': must be inverse, l1 or none, not 'l2'", "--density", "0.5", "--rescale", "l2",
                "--exclude", "score\\.");
        assertBadInput("--no-rescale contradicts --rescale l1", "--density", "0.5", "--rescale", "l1", "--no-rescale",
                "--exclude", "score\\.");

        Random rnd = new Random(1);
        Path wrong = TestModels.write(dir.resolve("wrongshape"), DType.BF16, new TestModels.Model()
                .put(UP, new long[] {64, 64}, gaussian(rnd, 4096, 0.02f)).put(Q, new long[] {64, 32}, gaussian(rnd, 2048, 0.02f))
                .put(HEAD, new long[] {16, 64}, gaussian(rnd, 1024, 0.02f)));
        CliRun r = run("dare", "--base", base.toString(), "--model", wrong.toString(), "--density", "0.5", "-o",
                dir.resolve("bad").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'" + Q + "' has shape [64, 32] but [32, 64] in the base"), r.err());
        assertFalse(Files.exists(dir.resolve("bad")));

        Path missing = TestModels.write(dir.resolve("missing"), DType.BF16, new TestModels.Model()
                .put(UP, new long[] {64, 64}, gaussian(rnd, 4096, 0.02f)).put(HEAD, new long[] {16, 64}, gaussian(rnd, 1024, 0.02f)));
        r = run("dare", "--base", base.toString(), "--model", missing.toString(), "--density", "0.5", "-o",
                dir.resolve("bad").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("has no tensor '" + Q + "'"), r.err());
        assertFalse(Files.exists(dir.resolve("bad")));
        r = run("dare", "--base", dir.resolve("nope").toString(), "--model", ft.toString(), "--density", "0.5", "-o",
                dir.resolve("bad").toString());
        assertEquals(2, r.code());
        assertFalse(Files.exists(dir.resolve("bad")));
    }
}
