package io.mergestream.recipe;

import static io.mergestream.recipe.RecipeFixtures.assertError;
import static io.mergestream.recipe.RecipeFixtures.assertWarning;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Recipe errors for the methods outside the task-arithmetic family and for {@code slices:}, one test each,
 * in the style of {@link RecipeErrorTest}; and the valid shapes they are variations of.
 */
class MethodRecipeErrorTest {

    private static final String SLERP = """
            merge_method: slerp
            base_model: base
            models: [base, ft1]
            parameters: {t: 0.5}
            """;

    private static final String SLICES = """
            merge_method: passthrough
            slices:
              - sources:
                  - {model: a, layer_range: [0, 4]}
              - sources:
                  - {model: b, layer_range: [2, 4]}
            """;

    @Test
    void theBaseRecipesAreValid() {
        Recipe slerp = RecipeFixtures.parse(SLERP);
        assertEquals(1, slerp.mergedModels().size());
        Recipe sliced = RecipeFixtures.parse(SLICES);
        assertEquals(2, sliced.slices().size());
        assertEquals(4, sliced.slices().get(0).layers());
        assertEquals(2, sliced.slices().get(1).sources().get(0).from());
        RecipeFixtures.parse("merge_method: nuslerp\nmodels: [{model: a, parameters: {weight: 1}}]\n"); // a lone model
        RecipeFixtures.parse("merge_method: karcher\nmodels: [a, b, c]\nparameters: {max_iter: 5, tol: 0}\n");
        RecipeFixtures.parse("merge_method: model_stock\nbase_model: b\nmodels: [b, x, y]\n");
    }

    @Test
    void slerpWithoutT() {
        assertError(SLERP.replace("parameters: {t: 0.5}\n", ""), "parameters.t: ", "missing", "slerp needs t");
    }

    @Test
    void slerpWithoutBaseModel() {
        assertError(SLERP.replace("base_model: base\n", ""), "base_model: ", "missing", "slerp");
    }

    @Test
    void slerpWithTwoModelsBesidesTheBase() {
        assertError(SLERP.replace("[base, ft1]", "[base, ft1, ft2]"), "models: ",
                "slerp merges exactly 1 model besides the base model, not 2");
    }

    @Test
    void slerpWithAWeightIsAWarningAsMergekitIgnoresIt() {
        assertWarning(SLERP.replace("[base, ft1]", "[base, {model: ft1, parameters: {weight: 1}}]"),
                "models[1].parameters.weight: ", "slerp does not use weight", "slerp takes no per-model parameters");
    }

    @Test
    void nearswapThresholdThatIsNotANumber() {
        // any finite t is valid, as in mergekit (t <= 0 gives the base); a word is not
        assertError(SLERP.replace("slerp", "nearswap").replace("t: 0.5", "t: near"), "parameters.t: ", "not a number");
    }

    @Test
    void nuslerpWithTheBaseAndOneModel() {
        assertError("merge_method: nuslerp\nbase_model: b\nmodels: [b, {model: x, parameters: {weight: 1}}]\n",
                "models: ", "nuslerp merges exactly 2 models besides the base model, not 1");
    }

    @Test
    void nuslerpFlattenThatIsNotABoolean() {
        assertError("merge_method: nuslerp\nmodels: [{model: x, parameters: {weight: 1}}]\n"
                + "parameters: {nuslerp_flatten: rows}\n", "parameters.nuslerp_flatten: ", "not true or false");
    }

    @Test
    void multislerpWithoutWeights() {
        assertError("merge_method: multislerp\nmodels: [x, y]\n", "models[0].parameters.weight: ", "missing");
    }

    @Test
    void karcherNegativeIterations() {
        assertError("merge_method: karcher\nmodels: [x, y]\nparameters: {max_iter: -1}\n", "parameters.max_iter: ");
    }

    @Test
    void modelStockWithOneFineTune() {
        assertError("merge_method: model_stock\nbase_model: b\nmodels: [b, x]\n", "models: ",
                "model_stock merges at least 2 models besides the base model, not 1");
    }

    @Test
    void modelStockFilterWiseAsAGradient() {
        assertError("merge_method: model_stock\nbase_model: b\nmodels: [x, y]\nparameters: {filter_wise: [true]}\n",
                "parameters.filter_wise: ");
    }

    @Test
    void passthroughOfTwoModels() {
        assertError("merge_method: passthrough\nmodels: [x, y]\n", "models: ", "passthrough merges exactly 1 model, not 2");
    }

    @Test
    void slicesTogetherWithModels() {
        assertError(SLICES + "models: [a]\n", "slices: ", "either models or slices");
    }

    @Test
    void slicesThatAreNotAList() {
        assertError("merge_method: passthrough\nslices: {sources: []}\n", "slices: ", "must be a list");
    }

    @Test
    void sliceWithoutSources() {
        assertError("merge_method: passthrough\nslices:\n  - {}\n", "slices[0].sources: ", "missing");
    }


    @Test
    void sliceSourceWithAnUnknownKey() {
        assertWarning(SLICES.replace("layer_range: [0, 4]}", "layer_range: [0, 4], layers: 4}"),
                "slices[0].sources[0].layers: ", "unknown key");
    }

    @Test
    void sliceSourceWithoutLayerRange() {
        assertError(SLICES.replace("{model: a, layer_range: [0, 4]}", "{model: a}"),
                "slices[0].sources[0].layer_range: ", "missing");
    }

    @Test
    void layerRangeThatIsNotTwoNumbers() {
        assertError(SLICES.replace("[0, 4]", "[0, 4, 8]"), "slices[0].sources[0].layer_range: ", "[FROM, TO]");
    }

    @Test
    void emptyLayerRange() {
        assertError(SLICES.replace("[2, 4]", "[4, 2]"), "slices[1].sources[0].layer_range: ", "empty");
    }

    @Test
    void sourcesOfDifferentLengths() {
        assertError("""
                merge_method: slerp
                base_model: a
                slices:
                  - sources:
                      - {model: a, layer_range: [0, 4]}
                      - {model: b, layer_range: [0, 3]}
                parameters: {t: 0.5}
                """, "slices[0].sources[1].layer_range: ", "spans 3 layers", "spans 4");
    }

    @Test
    void sliceWithoutTheBaseForSlerp() {
        assertError("""
                merge_method: slerp
                base_model: a
                slices:
                  - sources:
                      - {model: b, layer_range: [0, 4]}
                      - {model: c, layer_range: [0, 4]}
                parameters: {t: 0.5}
                """, "slices[0].sources: ", "no source from base_model 'a'");
    }

    @Test
    void sliceSourceParameterForTheWrongMethod() {
        assertWarning(SLICES.replace("{model: b, layer_range: [2, 4]}", "{model: b, layer_range: [2, 4], parameters: {weight: 1}}"),
                "slices[1].sources[0].parameters.weight: ", "passthrough does not use weight");
    }
}
