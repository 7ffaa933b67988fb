package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.format.StoredTensor;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * mergekit's own outputs (../shared/fixtures/mergekit-golden: mergekit 0.1.4 run with {@code dtype: float32} on
 * a small f32 family) against mergestream's, case by case, each recipe run through the command line as a user
 * runs it. As the fixture's README says: bit-identical tensors for linear, task_arithmetic, ties,
 * breadcrumbs(_ties), ram, passthrough and slices; {@code max|ours − mergekit| ≤ 1e-6 · max|mergekit|} per
 * tensor for the others (spherical, iterative and statistic methods sum in another order; {@code
 * ties_rescale_true}'s L1 sums are f64 block sums here, torch's f32 sums there). nearswap is held to
 * bit-identity too, which it reaches. The config fields mergekit writes must be ours.
 *
 * <p>{@code arcee_fusion} is the one documented deviation (merge-semantics.md, "Deviations"): its per-row KL
 * divergence of two nearly equal softmaxes is computed in double here, while mergekit's f32 value (torch's
 * vectorised exp and log, CPU-dependent) is off by about 1% (up to 8%) on this family, so elements whose
 * importance lies near the threshold fall on the other side. That case is checked against a plain reference of
 * the documented rule (bit for bit), and against mergekit everywhere but in a narrow band around the threshold.
 */
class MergekitGoldenTest {

    /** The shared fixtures, next to the project (a clean clone sits at the same depth as the main tree). */
    static final Path GOLDEN = Path.of("..", "shared", "fixtures", "mergekit-golden");

    static final Set<String> BIT_IDENTICAL = Set.of("linear", "linear_no_normalize", "task_arithmetic",
            "task_arithmetic_lambda_negative", "task_arithmetic_gradient_filter", "ties", "breadcrumbs",
            "breadcrumbs_ties", "ram", "passthrough_slices", "linear_slices_gradient", "nearswap");

    /** Config keys that describe the producing library, not the model. */
    static final Set<String> CONFIG_KEYS_NOT_COMPARED = Set.of("transformers_version");

    static final ValueLayout.OfInt BITS = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    static Path dir;

    static List<String> cases() throws IOException {
        assertTrue(Files.isDirectory(GOLDEN), "the shared fixtures are expected at " + GOLDEN.toAbsolutePath());
        JsonNode index = Json.read(GOLDEN.resolve("cases.json"));
        List<String> names = new ArrayList<>();
        index.get("cases").forEach(c -> names.add(c.asText()));
        return names;
    }

    @Test
    void everyCaseOfTheFixtureIsHere() throws IOException {
        List<String> names = cases();
        assertEquals(23, names.size(), "cases.json lists 23 recipes");
        assertEquals(0, Json.read(GOLDEN.resolve("cases.json")).get("failed_in_mergekit").size());
        try (Stream<Path> dirs = Files.list(GOLDEN.resolve("cases"))) {
            assertEquals(new TreeSet<>(names), new TreeSet<>(dirs.map(p -> p.getFileName().toString()).toList()));
        }
    }

    /** Writes the case's recipe with ${BASE}, ${FT1} ... replaced by the family's directories, and merges it. */
    static Path merge(String name) throws IOException {
        String recipe = Files.readString(GOLDEN.resolve("cases").resolve(name).resolve("recipe.yml"));
        Path family = GOLDEN.resolve("family").toAbsolutePath().normalize();
        for (String m : List.of("BASE", "FT1", "FT2", "FT3")) {
            recipe = recipe.replace("${" + m + "}", family.resolve(m.toLowerCase(java.util.Locale.ROOT)).toString());
        }
        assertTrue(!recipe.contains("${"), name + ": every placeholder replaced");
        Path r = dir.resolve(name + ".yml");
        Files.writeString(r, recipe);
        Path out = dir.resolve("out-" + name);
        assertEquals(0, Main.run("merge", r.toString(), "-o", out.toString(), "-q", "--force"), name + ": merge exit code");
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesMergekit(String name) throws IOException {
        Path out = merge(name);
        Path expected = GOLDEN.resolve("cases").resolve(name);
        compareConfig(name, out, expected);
        try (Checkpoint ours = Checkpoint.open(out); Checkpoint mk = Checkpoint.open(expected)) {
            assertEquals(names(mk), names(ours), name + ": tensor names");
            for (StoredTensor m : mk.tensors()) {
                StoredTensor o = ours.tensor(m.name());
                String what = name + " " + m.name();
                assertArrayEquals(m.info().shape(), o.info().shape(), what + ": shape");
                assertEquals(DType.F32, m.info().dtype(), what);
                assertEquals(DType.F32, o.info().dtype(), what + ": dtype");
                if (name.equals("arcee_fusion")) continue; // below, against its documented rule
                float[] a = floats(o.data()), b = floats(m.data());
                if (BIT_IDENTICAL.contains(name)) {
                    for (int i = 0; i < b.length; i++) {
                        if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                            throw new AssertionError(what + ": element " + i + " is " + a[i] + ", mergekit " + b[i]
                                    + " (bit-identical expected)");
                        }
                    }
                } else {
                    double max = 0, diff = 0;
                    for (int i = 0; i < b.length; i++) {
                        max = Math.max(max, Math.abs(b[i]));
                        diff = Math.max(diff, Math.abs((double) a[i] - b[i]));
                    }
                    assertTrue(diff <= 1e-6 * max, what + ": max|ours - mergekit| " + diff + " > 1e-6 * " + max);
                }
            }
        }
        if (name.equals("arcee_fusion")) checkArceeFusion(out, expected);
    }

    /** Every field of mergekit's config.json (but the library version) has the same value in ours. */
    static void compareConfig(String name, Path out, Path expected) {
        JsonNode mk = Json.read(expected.resolve("config.json"));
        JsonNode ours = Json.read(out.resolve("config.json"));
        for (Iterator<Map.Entry<String, JsonNode>> it = mk.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (CONFIG_KEYS_NOT_COMPARED.contains(f.getKey())) continue;
            JsonNode mine = ours.get(f.getKey());
            // numbers by value: ours keeps the input config's spelling (the family's 1.0E-5), Python writes 1e-05
            if (f.getValue().isNumber() && mine != null && mine.isNumber()) {
                assertEquals(f.getValue().doubleValue(), mine.doubleValue(), name + ": config.json " + f.getKey());
            } else {
                assertEquals(f.getValue(), mine, name + ": config.json " + f.getKey());
            }
        }
    }

    /**
     * arcee_fusion: ours equals a plain reference of merge-semantics.md's rule (double KL per row, a full sort
     * for the quantiles) bit for bit; against mergekit, an element differs only where mergekit took the other
     * choice (the base's value, or base + delta) for an element whose importance lies within 12% of the
     * threshold (its f32 KL is up to 8% off on this family, which shifts the threshold too), and no tensor
     * has more than 1% of such elements.
     */
    static void checkArceeFusion(Path out, Path expected) {
        Path family = GOLDEN.resolve("family");
        try (Checkpoint ours = Checkpoint.open(out); Checkpoint mk = Checkpoint.open(expected);
             Checkpoint base = Checkpoint.open(family.resolve("base")); Checkpoint ft1 = Checkpoint.open(family.resolve("ft1"))) {
            long disagreeing = 0;
            for (StoredTensor m : mk.tensors()) {
                String name = m.name();
                float[] b = floats(base.tensor(name).data()), x = floats(ft1.tensor(name).data());
                long[] shape = m.info().shape();
                int row = shape.length == 0 ? 1 : (int) shape[shape.length - 1];
                float[] importance = ArceeFusionReference.importance(x, b, row);
                float threshold = ArceeFusionReference.threshold(importance);
                float[] reference = ArceeFusionReference.fuse(x, b, importance, threshold);
                float[] a = floats(ours.tensor(name).data()), g = floats(m.data());
                int differ = 0;
                for (int i = 0; i < g.length; i++) {
                    assertEquals(Float.floatToRawIntBits(reference[i]), Float.floatToRawIntBits(a[i]),
                            name + " element " + i + ": ours against the plain reference");
                    if (Float.floatToRawIntBits(a[i]) == Float.floatToRawIntBits(g[i])) continue;
                    differ++;
                    float kept = b[i] + (x[i] - b[i]);
                    float dropped = b[i] + (x[i] - b[i]) * 0f;
                    assertTrue(g[i] == kept || g[i] == dropped, name + " element " + i + ": mergekit's " + g[i]
                            + " is neither the base's value nor base + delta");
                    double distance = Math.abs(importance[i] - threshold) / threshold;
                    assertTrue(distance <= 0.12, name + " element " + i + ": importance " + importance[i]
                            + " is " + distance + " away from the threshold " + threshold + ", yet mergekit chose otherwise");
                }
                assertTrue(differ <= 0.01 * g.length, name + ": " + differ + " of " + g.length + " elements differ");
                disagreeing += differ;
            }
            assertTrue(disagreeing > 0, "mergekit's f32 KL is expected to move some elements (else the deviation is gone)");
        }
    }

    static Set<String> names(Checkpoint c) {
        Set<String> s = new TreeSet<>();
        for (StoredTensor t : c.tensors()) s.add(t.name());
        return s;
    }

    static float[] floats(MemorySegment data) {
        float[] f = new float[(int) (data.byteSize() / 4)];
        for (int i = 0; i < f.length; i++) f[i] = Float.intBitsToFloat(data.get(BITS, 4L * i));
        return f;
    }

    /** merge-semantics.md's arcee_fusion on whole arrays: a plain per-row loop and a full sort. */
    static final class ArceeFusionReference {

        static float[] importance(float[] x, float[] b, int row) {
            float[] imp = new float[x.length];
            for (int r = 0; r * row < x.length; r++) {
                int s = r * row;
                double mx = Double.NEGATIVE_INFINITY, mb = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < row; c++) {
                    mx = Math.max(mx, x[s + c]);
                    mb = Math.max(mb, b[s + c]);
                }
                double sx = 0, sb = 0;
                for (int c = 0; c < row; c++) {
                    sx += StrictMath.exp(x[s + c] - mx);
                    sb += StrictMath.exp(b[s + c] - mb);
                }
                double kl = 0;
                for (int c = 0; c < row; c++) {
                    double p = StrictMath.exp(x[s + c] - mx) / sx + 1e-8;
                    double q = StrictMath.exp(b[s + c] - mb) / sb + 1e-8;
                    kl += p * StrictMath.log(p / q);
                }
                float k = Math.max(0f, (float) kl);
                for (int c = 0; c < row; c++) imp[s + c] = Math.abs(x[s + c] - b[s + c]) * k;
            }
            return imp;
        }

        static float threshold(float[] importance) {
            float[] sorted = importance.clone();
            Arrays.sort(sorted);
            int n = sorted.length;
            float median = sorted[(int) Math.floor(0.5 * (n - 1))];
            float q1 = sorted[(int) Math.floor(0.25 * (n - 1))];
            float q3 = sorted[(int) Math.floor(0.75 * (n - 1))];
            return median + 1.5f * (q3 - q1);
        }

        static float[] fuse(float[] x, float[] b, float[] importance, float threshold) {
            float[] out = new float[x.length];
            for (int i = 0; i < x.length; i++) out[i] = b[i] + (x[i] - b[i]) * (importance[i] >= threshold ? 1f : 0f);
            return out;
        }
    }
}
