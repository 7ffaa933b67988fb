package io.mergestream.recipe;

import io.mergestream.MergestreamException;
import java.util.Optional;
import org.junit.jupiter.api.Test;

import static io.mergestream.recipe.RecipeFixtures.assertError;
import static io.mergestream.recipe.RecipeFixtures.assertWarning;
import static org.junit.jupiter.api.Assertions.*;

/** One test per recipe error: the message is one line, starts with the file and names the key and the problem. */
class RecipeErrorTest {

    /** A valid dare_ties recipe to break one line at a time. */
    private static final String DARE = """
            merge_method: dare_ties
            base_model: base
            models:
              - model: base
              - model: ft1
                parameters: {weight: 0.5, density: 0.5}
              - model: ft2
                parameters: {weight: 0.5, density: 0.5}
            """;

    @Test
    void theBaseRecipeIsValid() {
        assertEquals(2, RecipeFixtures.parse(DARE).fineTunes().size());
    }

    @Test
    void invalidYaml() {
        assertError("merge_method: [linear\nmodels: x\n", "", "not valid YAML", "line ");
    }

    @Test
    void emptyRecipe() {
        assertError("# nothing\n", "", "empty");
    }

    @Test
    void recipeThatIsNotAMapping() {
        assertError("- linear\n", "", "mapping");
    }

    @Test
    void duplicateYamlKey() {
        assertError(DARE + "merge_method: ties\n", "", "merge_method");
    }

    @Test
    void missingMergeMethod() {
        assertError("models: [{model: a, parameters: {weight: 1}}]\n", "merge_method: ", "missing");
    }

    @Test
    void unknownMergeMethod() {
        assertError(DARE.replace("dare_ties", "dare_tie"), "unknown merge_method 'dare_tie'", "known: linear, task_arithmetic", "slerp");
    }

    @Test
    void unknownTopLevelKeyIsAWarningAsMergekitIgnoresIt() {
        assertWarning(DARE + "random_seed: 42\n", "random_seed: ", "not a recipe key", "ignored",
                "recipe keys: merge_method", "seed", "exclude");
    }

    @Test
    void slicesTogetherWithModels() {
        assertError(DARE + "slices: []\n", "slices: ", "either models or slices");
    }

    @Test
    void tokenizerBlockKeysAreChecked() {
        assertWarning(DARE + "tokenizer: {source: union, pad_to: 8}\n", "tokenizer.pad_to: ", "unknown key",
                "ignored", "source, tokens, pad_to_multiple_of");
        assertError(DARE + "tokenizer: {pad_to_multiple_of: 0}\n", "tokenizer.pad_to_multiple_of: ", "not a positive integer");
        assertError(DARE + "tokenizer: union\n", "tokenizer: ", "must be a mapping");
        assertWarning(DARE + "tokenizer: {tokens: {'<x>': {source: m, forced: true}}}\n", "tokenizer.tokens.<x>.forced: ",
                "unknown key", "allowed: source, force");
        assertError(DARE + "tokenizer: {tokens: {'<x>': {force: true}}}\n", "tokenizer.tokens.<x>.source: ", "missing");
        assertError(DARE + "tokenizer: {tokens: {'<x>': {source: {kind: embed}}}}\n",
                "tokenizer.tokens.<x>.source.kind: ", "'embed' is not a token source kind");
        assertError(DARE + "tokenizer: {tokens: {'<x>': {source: {kind: model_token, model: m, token: a, token_id: 1}}}}\n",
                "tokenizer.tokens.<x>.source: ", "exactly one of token_id and token");
        assertWarning(DARE + "tokenizer: {tokens: {'<x>': {source: {kind: zero, model: m}}}}\n",
                "tokenizer.tokens.<x>.source.model: ", "unknown key");
        assertError(DARE + "tokenizer_source: union\ntokenizer: {source: union}\n", "tokenizer: ", "not both");
    }

    @Test
    void tokenizerBlockParses() {
        var r = RecipeFixtures.parse(DARE + "tokenizer:\n  pad_to_multiple_of: 8\n  tokens:\n"
                + "    '<x>': {source: {kind: model_token, model: m, token_id: 3}, force: true}\n"
                + "    '<y>': {source: {kind: zero}}\n");
        var t = r.tokenizer().orElseThrow();
        assertEquals("union", t.source(), "mergekit's default source for the block");
        assertEquals(8, t.padToMultipleOf().getAsInt());
        assertEquals(3, t.tokens().get("<x>").tokenId().getAsInt());
        assertTrue(t.tokens().get("<x>").force());
        assertEquals(TokenizerSettings.TokenSource.Kind.ZERO, t.tokens().get("<y>").kind());
        assertTrue(RecipeFixtures.parse(DARE + "tokenizer_source: base\n").vocabularyMerge().isEmpty(),
                "tokenizer_source: base keeps the merge by position");
    }

    @Test
    void chatTemplateIsAutoABuiltInNameOrJinja() {
        assertEquals(Optional.of("chatml"), RecipeFixtures.parse(DARE + "chat_template: chatml\n").chatTemplate());
        assertEquals(Optional.of("auto"), RecipeFixtures.parse(DARE + "chat_template: auto\n").chatTemplate());
        String jinja = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
        assertEquals(Optional.of(jinja), RecipeFixtures.parse(DARE + "chat_template: \"" + jinja + "\"\n").chatTemplate());
        assertEquals(Optional.empty(), RecipeFixtures.parse(DARE).chatTemplate());
        assertError(DARE + "chat_template: chatml2\n", "chat_template: ",
                "'chatml2' is neither auto, a built-in template (alpaca, chatml, exaone, llama3, mistral) nor a Jinja template");
        assertError(DARE + "chat_template: [chatml]\n", "chat_template: ", "must be a string");
    }

    @Test
    void unknownKeyInAModelEntryIsAWarning() {
        assertWarning(DARE.replace("  - model: ft2\n", "  - model: ft2\n    layer_range: [0, 4]\n"),
                "models[2].layer_range: ", "unknown key", "ignored", "known here: model, parameters");
    }

    @Test
    void missingModels() {
        assertError("merge_method: linear\n", "models: ", "missing");
    }

    @Test
    void emptyModels() {
        assertError("merge_method: linear\nmodels: []\n", "models: ", "empty");
    }

    @Test
    void modelsNotAList() {
        assertError("merge_method: linear\nmodels: a\n", "models: ", "must be a list");
    }

    @Test
    void modelEntryWithoutModel() {
        assertError("merge_method: linear\nmodels:\n  - parameters: {weight: 1}\n", "models[0].model: ", "missing");
    }

    @Test
    void modelThatIsNotAString() {
        assertError("merge_method: linear\nmodels:\n  - model: 3\n", "models[0].model: ", "must be a string");
    }

    @Test
    void loraAdapterReferenceIsKeptForThePlanner() {
        // BASE+ADAPTER is a model (a LoRA fine-tune) the planner opens: the recipe keeps it as written
        Recipe r = RecipeFixtures.parse(DARE.replace("model: ft1", "model: ft1+my/lora"));
        org.junit.jupiter.api.Assertions.assertTrue(r.models().stream().anyMatch(m -> m.model().equals("ft1+my/lora")),
                r.models().toString());
    }

    @Test
    void missingBaseModelForTheTaskArithmeticFamily() {
        assertError("merge_method: task_arithmetic\nmodels: [{model: a, parameters: {weight: 1}}]\n",
                "base_model: ", "missing", "task_arithmetic", "base model");
    }

    @Test
    void baseModelThatIsNotAString() {
        assertError(DARE.replace("base_model: base", "base_model: [base]"), "base_model: ", "must be a string");
    }

    @Test
    void duplicateModels() {
        assertError(DARE.replace("model: ft2", "model: ft1"), "models[2]: ", "'ft1' is listed twice", "models[1]");
    }

    @Test
    void parametersOnTheBaseModelAreAWarning() {
        assertWarning(DARE.replace("  - model: base\n", "  - model: base\n    parameters: {weight: 1}\n"),
                "models[0].parameters: ", "base model", "no effect", "ignored");
    }

    @Test
    void onlyTheBaseModelListedIsValidForTheDeltaMethods() {
        // mergekit returns the base when there is no delta: these recipes are not errors (the merge gives the base)
        for (String method : java.util.List.of("ties", "task_arithmetic", "dare_ties", "della", "sce", "ram")) {
            assertEquals(0, RecipeFixtures.parse("merge_method: " + method + "\nbase_model: b\nmodels: [b]\n")
                    .mergedModels().size(), method);
        }
    }

    @Test
    void missingWeight() {
        assertError(DARE.replace("{weight: 0.5, density: 0.5}\n  - model: ft2", "{density: 0.5}\n  - model: ft2"),
                "models[1].parameters.weight: ", "missing", "'ft1'");
    }

    @Test
    void missingWeightInAPlainStringModel() {
        assertError("merge_method: linear\nmodels: [a]\n", "models[0].parameters.weight: ", "missing");
    }

    @Test
    void densityAboveOne() {
        assertError(DARE.replace("density: 0.5}\n  - model: ft2", "density: 1.5}\n  - model: ft2"),
                "models[1].parameters.density: ", "1.5 is outside (0, 1]");
    }

    @Test
    void densityZero() {
        assertError(DARE.replace("density: 0.5}\n  - model: ft2", "density: 0}\n  - model: ft2"),
                "models[1].parameters.density: ", "0 is outside (0, 1]");
    }

    @Test
    void densityGradientAnchorOutOfRange() {
        assertError(DARE.replace("density: 0.5}\n  - model: ft2", "density: [1, 0.5, -0.2]}\n  - model: ft2"),
                "models[1].parameters.density[2]: ", "-0.2 is outside (0, 1]");
    }

    @Test
    void densityOutOfRangeInsideAFilter() {
        assertError(DARE + "parameters:\n  density:\n    - filter: mlp\n      value: [0.5, 2]\n",
                "parameters.density[0].value[1]: ", "2 is outside (0, 1]");
    }

    @Test
    void weightThatIsNotANumber() {
        assertError(DARE.replace("weight: 0.5, density: 0.5}\n  - model: ft2", "weight: abc, density: 0.5}\n  - model: ft2"),
                "models[1].parameters.weight: ", "'abc' is not a number");
    }

    @Test
    void weightThatIsNotFinite() {
        assertError(DARE.replace("weight: 0.5, density: 0.5}\n  - model: ft2", "weight: 1e999, density: 0.5}\n  - model: ft2"),
                "models[1].parameters.weight: ", "not a finite number");
    }

    @Test
    void emptyGradient() {
        assertError(DARE.replace("weight: 0.5, density: 0.5}\n  - model: ft2", "weight: [], density: 0.5}\n  - model: ft2"),
                "models[1].parameters.weight: ", "empty list");
    }

    @Test
    void parameterWithoutValue() {
        assertError(DARE + "parameters:\n  lambda:\n", "parameters.lambda: ", "no value");
    }

    @Test
    void parametersThatAreNotAMapping() {
        assertError(DARE + "parameters: [normalize]\n", "parameters: ", "mapping");
    }

    @Test
    void normalizeThatIsNotABoolean() {
        assertError(DARE + "parameters: {normalize: sometimes}\n", "parameters.normalize: ", "'sometimes' is not true or false");
    }

    @Test
    void normalizeAsAGradient() {
        assertError(DARE + "parameters: {normalize: [true, false]}\n", "parameters.normalize: ", "not a list");
    }

    @Test
    void rescaleTakesL1AndInverseAsWords() {
        for (String word : java.util.List.of("true", "false", "l1", "inverse")) {
            assertEquals(2, RecipeFixtures.parse(DARE + "parameters: {rescale: " + word + "}\n").fineTunes().size(), word);
        }
    }

    @Test
    void signElectionWithAnUnknownWord() {
        assertError(DARE + "parameters: {sign_election: majority}\n", "parameters.sign_election: ",
                "'majority' is not one of weighted_sum, sum, count");
    }

    @Test
    void signElectionOnAMethodWithoutConsensusIsAWarning() {
        assertWarning(DARE.replace("dare_ties", "dare_linear") + "parameters: {sign_election: sum}\n",
                "parameters.sign_election: ", "dare_linear does not use sign_election", "ignored");
    }

    @Test
    void misspeltModelParameterIsAWarningAsMergekitIgnoresIt() {
        assertWarning(DARE.replace("weight: 0.5, density: 0.5}\n  - model: ft2", "weight: 0.5, densty: 0.5}\n  - model: ft2"),
                "models[1].parameters.densty: ", "dare_ties does not use densty", "per model: weight, density");
    }

    @Test
    void densityWithAMethodThatDoesNotSparsifyIsAWarning() {
        String yaml = """
                merge_method: task_arithmetic
                base_model: b
                models: [{model: a, parameters: {weight: 1, density: 0.5}}]
                """;
        assertWarning(yaml, "models[0].parameters.density: ", "task_arithmetic does not use density", "per model: weight");
        assertTrue(RecipeFixtures.warningsOf(() -> assertTrue(RecipeFixtures.parse(yaml).models().get(0).parameters()
                .get("density").isEmpty(), "an ignored parameter is not kept")).size() == 1);
    }

    @Test
    void mergeWideParameterGivenPerModelIsAWarning() {
        assertWarning(DARE.replace("weight: 0.5, density: 0.5}\n  - model: ft2", "weight: 0.5, normalize: true}\n  - model: ft2"),
                "models[1].parameters.normalize: ", "applies to the whole merge", "top-level parameters");
    }

    @Test
    void unknownKeyInACondition() {
        assertError(DARE + "parameters:\n  weight:\n    - filter: mlp\n      val: 1\n",
                "parameters.weight[0].val: ", "unknown key", "allowed: filter, value");
    }

    @Test
    void conditionWithoutValue() {
        assertError(DARE + "parameters:\n  weight:\n    - filter: mlp\n", "parameters.weight[0].value: ", "missing");
    }

    @Test
    void filterThatIsNotAString() {
        assertError(DARE + "parameters:\n  weight:\n    - {filter: [mlp], value: 1}\n",
                "parameters.weight[0].filter: ", "substring");
    }

    @Test
    void unknownDtype() {
        assertError(DARE + "dtype: bfloat17\n", "dtype: ", "'bfloat17'", "allowed: bfloat16, float16, float32");
    }

    @Test
    void dtypeThatIsNotAFloat() {
        assertError(DARE + "dtype: int8\n", "dtype: ", "'int8' is not a float type");
    }

    @Test
    void unknownOutDtype() {
        assertError(DARE + "out_dtype: fp8\n", "out_dtype: ", "'fp8'");
    }

    @Test
    void badRegexInExclude() {
        assertError(DARE + "exclude: [\"lm_head\", \"classifier(\"]\n", "exclude[1]: ", "'classifier(' is not a valid regex");
    }

    @Test
    void excludeThatIsNotAList() {
        assertError(DARE + "exclude: classifier\n", "exclude: ", "must be a list");
    }

    @Test
    void seedThatIsNotAnInteger() {
        assertError(DARE + "seed: forty-two\n", "seed: ", "'forty-two' is not an integer");
    }

    @Test
    void seedThatIsAFraction() {
        assertError(DARE + "seed: 4.2\n", "seed: ", "4.2 is not an integer");
    }

    @Test
    void negativeSeed() {
        assertError(DARE + "seed: -1\n", "seed: ", "-1 is outside 0 .. 18446744073709551615");
    }

    @Test
    void seedAbove64Bits() {
        assertError(DARE + "seed: 18446744073709551616\n", "seed: ", "is outside");
    }

    @Test
    void linearWeightsSummingToZeroWithNormalize() {
        assertError("""
                merge_method: linear
                models:
                  - {model: a, parameters: {weight: 0.5}}
                  - {model: b, parameters: {weight: -0.5}}
                """, "models: ", "weights sum to 0", "normalize");
    }

    @Test
    void linearWeightsSummingToZeroForOneTensorIsReportedByThePlannerCheck() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: linear
                models:
                  - {model: a, parameters: {weight: [{filter: mlp, value: -1}, {value: 1}]}}
                  - {model: b, parameters: {weight: 1}}
                """);
        r.checkWeightSum(null, r.mergedModels(), "model.layers.0.self_attn.q_proj.weight", 0);
        var e = assertThrows(MergestreamException.class,
                () -> r.checkWeightSum(null, r.mergedModels(), "model.layers.0.mlp.up_proj.weight", 0));
        assertTrue(e.getMessage().startsWith("recipe.yml: models: the weights sum to 0"), e.getMessage());
        assertTrue(e.getMessage().contains("'model.layers.0.mlp.up_proj.weight'"), e.getMessage());
    }

    @Test
    void unreadableFile() {
        var e = assertThrows(MergestreamException.class,
                () -> Recipe.load(java.nio.file.Path.of("/nonexistent/recipe.yml")));
        assertTrue(e.getMessage().startsWith("/nonexistent/recipe.yml: cannot read"), e.getMessage());
    }

    // ------------------------------------------------ parameters of breadcrumbs, della, sce, ram

    private static final String METHOD = """
            merge_method: METHOD
            base_model: base
            models:
              - model: ft1
                parameters: {PARAMS}
            """;

    private static String recipe(String method, String params) {
        return METHOD.replace("METHOD", method).replace("PARAMS", params);
    }

    @Test
    void newMethodsParse() {
        assertEquals(1, RecipeFixtures.parse(recipe("breadcrumbs", "weight: 1, density: 0.5, gamma: 0.02")).fineTunes().size());
        assertEquals(1, RecipeFixtures.parse(recipe("della", "weight: 1, density: 0.5, epsilon: 0.1")).fineTunes().size());
        assertEquals(1, RecipeFixtures.parse(recipe("sce", "") + "parameters: {select_topk: 0.5}\n").fineTunes().size());
        assertEquals(1, RecipeFixtures.parse(recipe("ramplus_tl", "") + "parameters: {r: 0.2, alpha: 0.5, epsilon: 1e-4}\n").fineTunes().size());
        assertEquals(2, RecipeFixtures.parse(DARE.replace("dare_ties", "dare_linear") + "parameters: {rescale: l1}\n").fineTunes().size());
    }

    @Test
    void gammaBelongsToBreadcrumbsOnly() {
        assertWarning(recipe("ties", "weight: 1, density: 0.5, gamma: 0.1"), "models[0].parameters.gamma: ",
                "ties does not use gamma");
    }

    @Test
    void gammaOutsideZeroOne() {
        assertError(recipe("breadcrumbs", "weight: 1, density: 0.5, gamma: 1.5"), "models[0].parameters.gamma: ",
                "outside [0, 1]");
    }

    @Test
    void epsilonOfDellaOutsideZeroOne() {
        assertError(recipe("della_linear", "weight: 1, density: 0.5, epsilon: 1"), "models[0].parameters.epsilon: ",
                "outside [0, 1)");
        assertError(recipe("della", "weight: 1, density: 0.5, epsilon: -0.1"), "models[0].parameters.epsilon: ",
                "outside [0, 1)");
    }

    @Test
    void epsilonBelongsToDellaAndRam() {
        assertWarning(recipe("breadcrumbs", "weight: 1, epsilon: 0.1"), "models[0].parameters.epsilon: ",
                "breadcrumbs does not use epsilon");
        assertWarning(recipe("ram", "epsilon: 0.1"), "models[0].parameters.epsilon: ",
                "applies to the whole merge");
    }

    @Test
    void selectTopkOutsideZeroOne() {
        assertError(recipe("sce", "") + "parameters: {select_topk: 1.5}\n", "parameters.select_topk: ", "outside [0, 1]");
    }

    @Test
    void sceAndRamTakeNoWeights() {
        assertWarning(recipe("sce", "weight: 1"), "models[0].parameters.weight: ", "sce does not use weight",
                "sce takes no per-model parameters");
        assertWarning(recipe("ram", "") + "parameters: {weight: 1}\n", "parameters.weight: ", "ram does not use weight",
                "ram takes epsilon");
        assertWarning(recipe("ram", "") + "parameters: {r: 0.1}\n", "parameters.r: ", "ram does not use r");
    }

    @Test
    void rescaleTakesTrueFalseL1OrInverse() {
        assertError(DARE + "parameters: {rescale: l3}\n", "parameters.rescale: ", "not true or false or l1, inverse");
        // mergekit's parser takes only booleans for rescale: its RescaleNorm words are not recipe values
        assertError(DARE + "parameters: {rescale: linf}\n", "parameters.rescale: ", "'linf' is not true or false");
    }

    @Test
    void newMethodsNeedABase() {
        assertError("merge_method: sce\nmodels: [ft1, ft2]\n", "base_model: ", "missing");
        assertError("merge_method: della\nmodels: [{model: ft1, parameters: {weight: 1}}]\n", "base_model: ", "missing");
    }
}
