package io.mergestream.recipe;

import static io.mergestream.recipe.RecipeFixtures.assertError;
import static io.mergestream.recipe.RecipeFixtures.parse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.cli.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, the recipe part: numbers that are not finite in f32, multislerp weights summing to zero, karcher's
 * bounds, and YAML anchors, aliases and merge keys (with a bound on their expansion).
 */
class RecipeValidationTest {

    private static final String TA = """
            merge_method: task_arithmetic
            base_model: b
            models:
              - model: a
                parameters: {weight: WEIGHT}
            """;

    // ------------------------------------------------ numbers finite as f32

    @Test
    void numbersBeyondTheFloatRangeAreErrorsNamingTheKeyPath() {
        assertError(TA.replace("WEIGHT", "1e39"), "models[0].parameters.weight: ", "1.0E39 is not finite as a 32-bit float");
        assertError(TA.replace("WEIGHT", "-3.5e38"), "models[0].parameters.weight: ", "not finite as a 32-bit float");
        assertError(TA.replace("WEIGHT", "1") + "parameters: {lambda: 1e300}\n", "parameters.lambda: ",
                "1.0E300 is not finite as a 32-bit float");
        assertError(TA.replace("WEIGHT", "[1, 0.5, 1e39]"), "models[0].parameters.weight[2]: ", "not finite as a 32-bit float");
        assertError(TA.replace("WEIGHT", "[{filter: mlp, value: 4e38}, {value: 1}]"),
                "models[0].parameters.weight[0].value: ", "not finite as a 32-bit float");
        assertError(TA.replace("WEIGHT", ".inf"), "models[0].parameters.weight: ", "not a finite number");
        assertError(TA.replace("WEIGHT", ".nan"), "models[0].parameters.weight: ", "not a finite number");
        // an ignored parameter too: mergekit would compute with nothing, but the number is still nonsense
        assertError("merge_method: slerp\nbase_model: b\nmodels: [b, {model: a, parameters: {weight: 1e39}}]\n"
                + "parameters: {t: 0.5}\n", "models[1].parameters.weight: ", "not finite as a 32-bit float");
    }

    @Test
    void theLargestFloatItselfIsAccepted() {
        // 3.4028235e38 rounds to Float.MAX_VALUE, 3.4028236e38 (as a double) still does, 3.40283e38 does not
        assertEquals(new Setting.Scalar(3.4028235e38), parse(TA.replace("WEIGHT", "3.4028235e38"))
                .models().get(0).parameters().get("weight").orElseThrow());
        assertTrue(Float.isFinite((float) 3.4028235e38));
        assertError(TA.replace("WEIGHT", "3.40283e38"), "models[0].parameters.weight: ", "not finite as a 32-bit float");
        assertFalse(Float.isFinite((float) 3.40283e38));
    }

    // ------------------------------------------------ multislerp weights summing to zero

    private static final String MULTI = """
            merge_method: multislerp
            models:
              - {model: x, parameters: {weight: 1}}
              - {model: y, parameters: {weight: W}}
            """;

    @Test
    void multislerpWeightsSummingToZeroAreAnErrorAsLinearsAre() {
        assertError(MULTI.replace("W", "-1"), "models: ", "the weights sum to 0.0",
                "multislerp with normalize_weights divides by that sum", "normalize_weights: false");
        assertEquals(2, parse(MULTI.replace("W", "-1") + "parameters: {normalize_weights: false}\n").mergedModels().size(),
                "without normalize_weights there is no division");
        assertEquals(2, parse(MULTI.replace("W", "-0.5")).mergedModels().size());
        // each weight finite and the sum 1e-7, not zero: 1e32 / 1e-7 = 1e39 is beyond f32
        assertError(MULTI.replace("weight: 1}", "weight: 1e32}").replace("W", "-1e32")
                + "  - {model: z, parameters: {weight: 1e-7}}\n", "models: ",
                "a weight divided by the weights' sum 1.0E-7 is not finite as a 32-bit float");
    }

    @Test
    void multislerpWeightsSummingToZeroForOneTensorAreFoundPerTensor() {
        Recipe r = parse(MULTI.replace("W", "[{filter: mlp, value: -1}, {value: 1}]"));
        r.checkWeightSum(null, r.mergedModels(), "model.layers.0.self_attn.q_proj.weight", 0);
        var e = assertThrows(MergestreamException.class,
                () -> r.checkWeightSum(null, r.mergedModels(), "model.layers.0.mlp.up_proj.weight", 0));
        assertTrue(e.getMessage().startsWith("recipe.yml: models: the weights sum to 0.0 for tensor"
                + " 'model.layers.0.mlp.up_proj.weight'"), e.getMessage());
    }

    @Test
    void linearWeightsSummingToZeroInASliceNameTheSlice() {
        assertError("""
                merge_method: linear
                slices:
                  - sources:
                      - {model: x, layer_range: [0, 2], parameters: {weight: 1}}
                      - {model: y, layer_range: [0, 2]}
                    parameters: {weight: -1}
                """, "slices[0].sources: ", "the weights sum to 0.0");
    }

    // ------------------------------------------------ karcher bounds

    private static final String KARCHER = "merge_method: karcher\nmodels: [x, y]\nparameters: {PARAMS}\n";

    @Test
    void karcherIterationsAreBoundedAndTheToleranceFiniteAndNonNegative() {
        assertEquals(10000, parse(KARCHER.replace("PARAMS", "max_iter: 10000, tol: 0"))
                .mergeParameters().resolveNumberAt("max_iter", "x", 0));
        assertError(KARCHER.replace("PARAMS", "max_iter: 10001"), "parameters.max_iter: ", "10001 is outside [0, 10000]");
        assertError(KARCHER.replace("PARAMS", "max_iter: 1e18, tol: 0"), "parameters.max_iter: ", "outside [0, 10000]");
        assertError(KARCHER.replace("PARAMS", "tol: -1e-5"), "parameters.tol: ", "outside [0, ");
        assertError(KARCHER.replace("PARAMS", "tol: .inf"), "parameters.tol: ", "outside [0, ");
        assertError(KARCHER.replace("PARAMS", "tol: .nan"), "parameters.tol: ", "outside [0, ");
    }

    /** The bound in practice: the most iterations with tol 0 (no early stop) finish a real merge. */
    @Test
    void karcherWithTheMostIterationsAndNoToleranceFinishes(@TempDir Path tmp) throws IOException {
        Path recipe = tmp.resolve("k.yml");
        Files.writeString(recipe, KARCHER.replace("[x, y]", "[" + Path.of("testdata/tiny-llama/ft1").toAbsolutePath()
                + ", " + Path.of("testdata/tiny-llama/ft2").toAbsolutePath() + "]")
                .replace("PARAMS", "max_iter: 10000, tol: 0"));
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", tmp.resolve("out").toString(), "-q"));
        assertTrue(Files.isRegularFile(tmp.resolve("out/model.safetensors")));
    }

    // ------------------------------------------------ YAML anchors, aliases, merge keys

    @Test
    void anchorsAliasesAndMergeKeysMeanWhatPyYamlMakesOfThem() {
        Recipe anchored = parse("""
                merge_method: dare_ties
                base_model: &base some/base
                x-defaults: &defaults {weight: 0.5, density: 0.4}
                models:
                  - model: *base
                  - model: ft1
                    parameters: *defaults
                  - model: ft2
                    parameters:
                      <<: *defaults
                      weight: 0.3
                parameters: &global {lambda: 0.9}
                """);
        Recipe expanded = parse("""
                merge_method: dare_ties
                base_model: some/base
                models:
                  - model: some/base
                  - model: ft1
                    parameters: {weight: 0.5, density: 0.4}
                  - model: ft2
                    parameters: {density: 0.4, weight: 0.3}
                parameters: {lambda: 0.9}
                """);
        assertEquals(expanded.baseModel(), anchored.baseModel());
        assertEquals(expanded.models().get(0), anchored.models().get(0));
        assertEquals(expanded.models().get(1), anchored.models().get(1));
        assertEquals(expanded.parameters(), anchored.parameters());
        // the merge key's explicit weight wins over the merged one, as in PyYAML
        assertEquals(0.3, anchored.parametersFor(anchored.models().get(2)).resolveNumberAt("weight", "x", 0));
        assertEquals(0.4, anchored.parametersFor(anchored.models().get(2)).resolveNumberAt("density", "x", 0));
        assertTrue(anchored.isBase(anchored.models().get(0)), "the alias is the base, not the text 'base'");
    }

    @Test
    void anAliasUsedByManySlicesIsFine() {
        StringBuilder y = new StringBuilder("merge_method: linear\nx: &p {weight: 1}\nslices:\n");
        for (int i = 0; i < 80; i++) {
            y.append("  - sources:\n      - {model: m").append(i).append(", layer_range: [0, 1], parameters: *p}\n");
        }
        assertEquals(80, parse(y.toString()).slices().size());
    }

    @Test
    void yamlScalarsAreReadAsYaml11ButDatesStayText() {
        Recipe r = parse("merge_method: linear\nmodels: [{model: 2024-01-01, parameters: {weight: 0x10}},"
                + " {model: b, parameters: {weight: 1_000}}]\n");
        assertEquals("2024-01-01", r.models().get(0).model(), "a directory named like a date");
        assertEquals(new Setting.Scalar(16), r.models().get(0).parameters().get("weight").orElseThrow());
        assertEquals(new Setting.Scalar(1000), r.models().get(1).parameters().get("weight").orElseThrow());
        // safe_load: no tag constructs an object
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: !!python/object:os.system x}}]\n",
                "", "line 2", "not valid YAML");
    }

    @Test
    void duplicateKeysAreStillErrors() {
        assertError("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1, weight: 2}}]\n", "",
                "line 2", "not valid YAML", "duplicate key weight");
    }

    @Test
    void aValueThatContainsItselfIsRefused() {
        assertError("merge_method: linear\nmodels: &m [{model: a, parameters: {weight: 1}}, *m]\n", "models[1]: ",
                "contains itself through a YAML alias");
    }

    /** Ten aliases of ten aliases ... nine levels deep: 10^9 values if expanded. */
    static String billionLaughs() {
        StringBuilder y = new StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 9; i++) {
            y.append("a").append(i).append(": &a").append(i).append(" [");
            for (int j = 0; j < 10; j++) y.append(j > 0 ? ", " : "").append("*a").append(i - 1);
            y.append("]\n");
        }
        return y + "merge_method: linear\nmodels: *a8\n";
    }

    @Test
    void anAliasBombIsAOneLineError() {
        assertError(billionLaughs(), "", "expands to more than 200000 values through YAML aliases", "alias bomb");
        // two aliases per level, 40 levels: 2^40 leaves, within SnakeYAML's own alias count
        StringBuilder y = new StringBuilder("a0: &a0 [x, x]\n");
        for (int i = 1; i < 40; i++) y.append("a").append(i).append(": &a").append(i).append(" [*a").append(i - 1)
                .append(", *a").append(i - 1).append("]\n");
        assertError(y + "merge_method: linear\nmodels: *a39\n", "", "expands to more than 200000 values");
    }

    /** The CLI's heap is 128 MB: the bomb must be refused within it, as one line and exit code 2. */
    @Test
    void anAliasBombIsRefusedWithin128MegabytesOfHeap(@TempDir Path tmp) throws IOException, InterruptedException {
        Path recipe = tmp.resolve("bomb.yml");
        Files.writeString(recipe, billionLaughs());
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xmx128m", "--add-modules", "jdk.incubator.vector", "-cp", io.mergestream.TestFiles.childClassPath(),
                Main.class.getName(), "merge", recipe.toString(), "-o", tmp.resolve("out").toString(), "--dry-run")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        var lines = out.lines().filter(l -> l.startsWith("mergestream:")).toList();
        assertEquals(1, lines.size(), out);
        assertTrue(lines.get(0).contains("bomb.yml: the recipe expands to more than 200000 values"), out);
        assertFalse(out.contains("OutOfMemoryError") || out.contains("\tat "), out);
    }
}
