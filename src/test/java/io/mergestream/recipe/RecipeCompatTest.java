package io.mergestream.recipe;

import static io.mergestream.recipe.RecipeFixtures.assertError;
import static io.mergestream.recipe.RecipeFixtures.assertWarning;
import static io.mergestream.recipe.RecipeFixtures.parse;
import static io.mergestream.recipe.RecipeFixtures.warnings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10: recipes as mergekit accepts them. One test (or a few) per bullet: what mergekit ignores is one
 * warning per key path and an error with {@code --strict}; booleans written as numbers; what mergekit rejects
 * stays an error; slice-level {@code parameters} and {@code base_model}; {@code residual_weight};
 * {@code tokenizer_source: model:PATH}; {@code modules:}.
 */
class RecipeCompatTest {

    private static final String SLERP = """
            merge_method: slerp
            base_model: base
            models:
              - model: base
              - model: ft1
            parameters: {t: 0.5}
            """;

    // ------------------------------------------------ lenient where mergekit is lenient

    @Test
    void whatMergekitIgnoresIsOneWarningPerKeyPath() {
        String yaml = "name: my-merge\nint8_mask: true\n" + SLERP.replace("  - model: ft1\n",
                "  - model: ft1\n    parameters: {weight: 0.4}\n");
        List<String> w = warnings(yaml);
        assertEquals(3, w.size(), w.toString());
        assertTrue(w.get(0).startsWith("recipe.yml: name: not a recipe key: ignored"), w.get(0));
        assertTrue(w.get(1).startsWith("recipe.yml: int8_mask: not a recipe key: ignored"), w.get(1));
        assertTrue(w.get(1).endsWith("int8_mask is a parameter of slerp: put it under parameters:")
                || !MethodCatalog.find("slerp").orElseThrow().parameter("int8_mask").isPresent(), w.get(1));
        assertTrue(w.get(2).startsWith("recipe.yml: models[1].parameters.weight: slerp does not use weight: ignored"), w.get(2));
        // what is ignored is not kept: the model has no parameters left
        Recipe r = RecipeFixtures.parse(yaml);
        assertTrue(r.models().get(1).parameters().isEmpty());
        assertEquals(0.5, r.mergeParameters().resolveNumberAt("t", "x", 0));
    }

    @Test
    void strictTurnsTheFirstWarningIntoAnErrorWithTheSameText() {
        String yaml = "name: my-merge\n" + SLERP;
        String warning = warnings(yaml).get(0);
        var e = assertThrows(MergestreamException.class, () -> Recipe.parse(yaml, Path.of("recipe.yml"), true));
        assertEquals(warning, e.getMessage());
    }

    @Test
    void densityOnTaskArithmeticIsAWarning() {
        assertWarning("""
                merge_method: task_arithmetic
                base_model: b
                models: [{model: a, parameters: {weight: 1, density: 0.5}}]
                """, "models[0].parameters.density: ", "task_arithmetic does not use density");
    }

    @Test
    void strictOnTheCommandLineRefusesWithExitCode2(@TempDir Path tmp) throws IOException {
        Path recipe = tmp.resolve("r.yml");
        Path base = Path.of("testdata/tiny-llama/base").toAbsolutePath();
        Path ft1 = Path.of("testdata/tiny-llama/ft1").toAbsolutePath();
        Files.writeString(recipe, "name: x\n" + SLERP.replace("model: base", "model: " + base)
                .replace("model: ft1", "model: " + ft1));
        var err = new java.io.ByteArrayOutputStream();
        var old = System.err;
        int strict;
        int lenient;
        System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            strict = Main.run("merge", recipe.toString(), "-o", tmp.resolve("out").toString(), "--dry-run", "--strict");
            lenient = Main.run("merge", recipe.toString(), "-o", tmp.resolve("out").toString(), "--dry-run");
        } finally {
            System.setErr(old);
        }
        List<String> lines = err.toString(java.nio.charset.StandardCharsets.UTF_8).lines()
                .filter(l -> l.startsWith("mergestream:")).toList();
        assertEquals(2, strict);
        assertEquals(0, lenient);
        assertEquals(List.of("mergestream: " + recipe + ": name: not a recipe key: ignored, as mergekit ignores it"
                        + " (recipe keys: merge_method, models, slices, base_model, parameters, dtype, out_dtype,"
                        + " tokenizer_source, tokenizer, chat_template, seed, exclude)",
                "mergestream: warning: " + recipe + ": name: not a recipe key: ignored, as mergekit ignores it"
                        + " (recipe keys: merge_method, models, slices, base_model, parameters, dtype, out_dtype,"
                        + " tokenizer_source, tokenizer, chat_template, seed, exclude)"), lines);
    }

    @Test
    void booleansWrittenAsZeroAndOneAreFlagsAsInMergekit() {
        String ties = """
                merge_method: ties
                base_model: b
                models: [{model: a, parameters: {weight: 1, density: 0.5}}]
                """;
        assertFalse(parse(ties + "parameters: {normalize: 0}\n").mergeParameters().resolveBoolean("normalize", "x"),
                "ties normalizes by default: 0 must switch it off");
        assertFalse(parse(ties + "parameters: {normalize: 0.0}\n").mergeParameters().resolveBoolean("normalize", "x"));
        assertTrue(parse(ties + "parameters: {rescale: 1}\n").mergeParameters().resolveBoolean("rescale", "x"),
                "ties does not rescale by default: 1 must switch it on");
        assertTrue(parse(ties + "parameters: {rescale: 1.0}\n").mergeParameters().resolveBoolean("rescale", "x"));
        assertTrue(parse("merge_method: model_stock\nbase_model: b\nmodels: [x, y]\nparameters: {filter_wise: 1}\n")
                .mergeParameters().resolveBoolean("filter_wise", "x"));
        var t = parse(ties + "tokenizer: {tokens: {'<x>': {source: a, force: 1}}}\n").tokenizer().orElseThrow();
        assertTrue(t.tokens().get("<x>").force());
        assertError(ties + "parameters: {normalize: 2}\n", "parameters.normalize: ", "2 is not true or false");
        assertError(ties + "parameters: {normalize: 0.5}\n", "parameters.normalize: ", "0.5 is not true or false");
    }

    @Test
    void yamlBooleansAreReadAsPyYamlReadsThem() {
        Recipe r = parse("merge_method: ties\nbase_model: b\nmodels: [{model: a, parameters: {weight: 1}}]\n"
                + "parameters: {normalize: no, rescale: yes}\n");
        assertFalse(r.mergeParameters().resolveBoolean("normalize", "x"));
        assertTrue(r.mergeParameters().resolveBoolean("rescale", "x"));
    }

    @Test
    void whatMergekitRejectsStaysAnError() {
        // an ignored parameter must still be a value mergekit's ParameterSetting takes
        assertError(SLERP.replace("{t: 0.5}", "{t: 0.5, weight: abc}"), "parameters.weight: ", "'abc' is not a number");
        assertError(SLERP.replace("{t: 0.5}", "{t: 0.5, weight: {filter: mlp}}"), "parameters.weight.value: ", "missing");
        assertError(SLERP.replace("{t: 0.5}", "{t: 0.5, weight: []}"), "parameters.weight: ", "empty list");
        assertError(SLERP.replace("{t: 0.5}", "{t: 0.5, weight: [1, x]}"), "parameters.weight[1]: ", "'x' is not a number");
        // a condition without a value: the unknown key next to it is named
        assertError(SLERP.replace("{t: 0.5}", "{t: [{filter: mlp, val: 1}]}"), "parameters.t[0].val: ",
                "unknown key in a condition");
        assertError(SLERP + "models: [a]\n", "", "not valid YAML", "duplicate key models");
        assertError(SLERP.replace("models:", "slices: [{sources: [{model: a, layer_range: [0, 1]}]}]\nmodels:"),
                "slices: ", "either models or slices");
        assertError(SLERP.replace("merge_method: slerp\n", ""), "merge_method: ", "missing");
        // a condition with a value and an unknown key is accepted by mergekit: a warning
        assertWarning(SLERP.replace("{t: 0.5}", "{t: [{filter: mlp, value: 0.3, note: x}, {value: 0.5}]}"),
                "parameters.t[0].note: ", "unknown key in a condition");
    }

    // ------------------------------------------------ slices: parameters, base_model, residual_weight

    private static final String SLICED = """
            merge_method: task_arithmetic
            slices:
              - base_model: b
                parameters: {weight: 0.5, lambda: 3}
                sources:
                  - {model: b, layer_range: [0, 2]}
                  - {model: x, layer_range: [0, 2], parameters: {weight: [{filter: mlp, value: 0.9}]}}
                  - {model: y, layer_range: [0, 2]}
              - base_model: c
                sources:
                  - {model: c, layer_range: [2, 4]}
                  - {model: x, layer_range: [2, 4]}
            parameters: {weight: 0.1, lambda: 2}
            """;

    @Test
    void sliceParametersComeAfterTheSourcesOwnAndBeforeTheTopLevelOnes() {
        Recipe r = parse(SLICED);
        OutputSlice s0 = r.slices().get(0);
        OutputSlice s1 = r.slices().get(1);
        ModelEntry x0 = s0.sources().get(1).entry();
        ModelEntry y0 = s0.sources().get(2).entry();
        ModelEntry x1 = s1.sources().get(1).entry();
        assertEquals(0.9, r.parametersFor(x0).resolveNumberAt("weight", "model.layers.0.mlp.up_proj.weight", 0));
        assertEquals(0.5, r.parametersFor(x0).resolveNumberAt("weight", "model.layers.0.self_attn.q_proj.weight", 0),
                "no condition of the source's matches: the slice's value");
        assertEquals(0.5, r.parametersFor(y0).resolveNumberAt("weight", "model.layers.0.mlp.up_proj.weight", 0));
        assertEquals(0.1, r.parametersFor(x1).resolveNumberAt("weight", "model.layers.2.mlp.up_proj.weight", 0),
                "a slice without parameters: the top-level value");
        assertEquals(3, r.mergeParameters(s0).resolveNumberAt("lambda", "x", 0));
        assertEquals(2, r.mergeParameters(s1).resolveNumberAt("lambda", "x", 0));
        assertEquals(2, r.mergeParameters().resolveNumberAt("lambda", "x", 0));
    }

    @Test
    void sliceBaseModelReplacesTheRecipesForThatSlice() {
        Recipe r = parse(SLICED.replace("parameters: {weight: 0.1, lambda: 2}\n", "base_model: b\nparameters: {weight: 0.1}\n"));
        OutputSlice s0 = r.slices().get(0);
        OutputSlice s1 = r.slices().get(1);
        assertEquals(Optional.of("b"), r.baseModelOf(s0));
        assertEquals(Optional.of("c"), r.baseModelOf(s1));
        assertTrue(r.isBase(s1.sources().get(0).entry()), "c is slice 1's base");
        assertFalse(r.isBase(s0.sources().get(1).entry()));
        assertEquals(List.of("x"), r.mergedModels(s1.entries()).stream().map(ModelEntry::model).toList());
        assertEquals(List.of("x", "y"), r.mergedModels(s0.entries()).stream().map(ModelEntry::model).toList());
    }

    @Test
    void everySliceNeedsABaseWhenTheRecipeHasNone() {
        assertError(SLICED.replace("  - base_model: c\n    sources:", "  - sources:"), "slices[1].base_model: ",
                "missing", "task_arithmetic merges the models' differences from a base model");
        assertError(SLICED.replace("- {model: c, layer_range: [2, 4]}", "- {model: y, layer_range: [2, 4]}"),
                "slices[1].sources: ", "no source from base_model 'c'");
    }

    @Test
    void layerRangesWrittenAsWholeFloatsAreLayerNumbers() {
        Recipe r = parse(SLICED.replace("[2, 4]}", "[2.0, 4.0]}"));
        assertEquals(2, r.slices().get(1).sources().get(0).from());
        assertEquals(4, r.slices().get(1).sources().get(1).to());
        assertError(SLICED.replace("{model: c, layer_range: [2, 4]}", "{model: c, layer_range: [2, 3.5]}"),
                "slices[1].sources[0].layer_range: ", "two layer numbers");
    }

    @Test
    void residualWeightIsDeclaredByMergekitAndNeverUsed() {
        String yaml = SLICED.replace("  - base_model: c\n", "  - base_model: c\n    residual_weight: 0.3\n");
        assertWarning(yaml, "slices[1].residual_weight: ", "never used", "ignored");
        assertError(SLICED.replace("  - base_model: c\n", "  - base_model: c\n    residual_weight: lots\n"),
                "slices[1].residual_weight: ", "'lots' is not a number");
    }

    /**
     * End to end: a recipe with slice-level base_model and parameters merges bit for bit as the same recipe with
     * the values written where mergestream read them before (the top-level base, per-source weights, a lambda
     * chosen by filters); ignoring either would change the output or fail.
     */
    @Test
    void sliceParametersAndBaseMergeAsTheirExpandedEquivalent(@TempDir Path tmp) throws IOException {
        String base = Path.of("testdata/tiny-llama/base").toAbsolutePath().toString();
        String ft1 = Path.of("testdata/tiny-llama/ft1").toAbsolutePath().toString();
        String sliced = """
                merge_method: task_arithmetic
                slices:
                  - base_model: BASE
                    parameters: {weight: 0.3}
                    sources:
                      - {model: BASE, layer_range: [0, 1]}
                      - {model: FT1, layer_range: [0, 1]}
                  - base_model: BASE
                    parameters: {weight: 0.8, lambda: 0.5}
                    sources:
                      - {model: BASE, layer_range: [1, 2]}
                      - {model: FT1, layer_range: [1, 2]}
                """;
        String expanded = """
                merge_method: task_arithmetic
                base_model: BASE
                slices:
                  - sources:
                      - {model: BASE, layer_range: [0, 1]}
                      - {model: FT1, layer_range: [0, 1], parameters: {weight: 0.3}}
                  - sources:
                      - {model: BASE, layer_range: [1, 2]}
                      - {model: FT1, layer_range: [1, 2], parameters: {weight: 0.8}}
                parameters:
                  lambda:
                    - {filter: layers.1., value: 0.5}
                    - {filter: model.norm, value: 0.5}
                    - {filter: lm_head, value: 0.5}
                    - {value: 1}
                """;
        Path a = merge(tmp, "sliced", sliced.replace("BASE", base).replace("FT1", ft1));
        Path b = merge(tmp, "expanded", expanded.replace("BASE", base).replace("FT1", ft1));
        Path c = merge(tmp, "other-lambda", sliced.replace("lambda: 0.5", "lambda: 1").replace("BASE", base)
                .replace("FT1", ft1));
        assertEquals(-1, Files.mismatch(a.resolve("model.safetensors"), b.resolve("model.safetensors")));
        assertTrue(Files.mismatch(a.resolve("model.safetensors"), c.resolve("model.safetensors")) >= 0,
                "the slice's lambda changes the output");
    }

    private static Path merge(Path tmp, String name, String yaml) throws IOException {
        Path recipe = tmp.resolve(name + ".yml");
        Files.writeString(recipe, yaml);
        Path out = tmp.resolve(name);
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", out.toString(), "-q"), name);
        return out;
    }

    // ------------------------------------------------ tokenizer_source: model:PATH, modules:

    @Test
    void legacyModelPrefixOfTokenizerSourceIsAnAliasOfThePath() {
        String dare = "merge_method: dare_ties\nbase_model: b\nmodels: [{model: a, parameters: {weight: 1}}]\n";
        Recipe legacy = parse(dare + "tokenizer_source: model:../models/chat\n");
        Recipe plain = parse(dare + "tokenizer_source: ../models/chat\n");
        assertEquals(Optional.of("../models/chat"), legacy.tokenizerSource());
        assertEquals(plain.vocabularyMerge(), legacy.vocabularyMerge());
        assertEquals(List.of(), warnings(dare + "tokenizer_source: model:../models/chat\n"));
        assertError(dare + "tokenizer_source: 'model:'\n", "tokenizer_source: ", "is empty");
    }

    @Test
    void modulesNeedArchitectureDefinitions() {
        assertError("""
                merge_method: linear
                modules:
                  text_decoder:
                    models: [{model: a, parameters: {weight: 1}}]
                """, "modules: ", "multi-module", "needs architecture definitions", "models: or slices:");
    }
}
