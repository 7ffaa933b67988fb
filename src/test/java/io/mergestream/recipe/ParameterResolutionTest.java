package io.mergestream.recipe;

import io.mergestream.MergestreamException;
import org.junit.jupiter.api.Test;

import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.*;

class ParameterResolutionTest {

    private static final double EPS = 1e-12;

    private final Recipe ties = RecipeFixtures.load("ties_gradients.yml");
    private final ParameterResolver math = ties.parametersFor(ties.models().get(1));
    private final ParameterResolver code = ties.parametersFor(ties.models().get(2));

    @Test
    void gradientInterpolatesBetweenNeighbouringAnchors() {
        // density [1, 0.7, 0.1] over 5 layers: t = l/4, position t*2
        String name = "model.layers.%d.mlp.up_proj.weight";
        assertEquals(1.0, math.resolveNumber("density", name.formatted(0), 5), EPS);
        assertEquals(0.85, math.resolveNumber("density", name.formatted(1), 5), EPS); // halfway 1 .. 0.7
        assertEquals(0.7, math.resolveNumber("density", name.formatted(2), 5), EPS);
        assertEquals(0.4, math.resolveNumber("density", name.formatted(3), 5), EPS); // halfway 0.7 .. 0.1
        assertEquals(0.1, math.resolveNumber("density", name.formatted(4), 5), EPS);
    }

    @Test
    void tensorsOutsideTheLayersTakeTheGradientsFirstValue() {
        assertEquals(1.0, math.resolveNumber("density", "model.embed_tokens.weight", 5), EPS);
        assertEquals(1.0, math.resolveNumber("density", "lm_head.weight", 5), EPS);
    }

    @Test
    void aSingleLayerSitsAtTheStartOfTheGradient() {
        assertEquals(1.0, math.resolveNumber("density", "model.layers.0.mlp.up_proj.weight", 1), EPS);
    }

    @Test
    void firstMatchingFilterWinsAndItsGradientIsInterpolated() {
        // self_attn: [0, 0.5, 0.3, 0.7, 1] over 9 layers: position l/2
        assertEquals(0.0, math.resolveNumber("weight", "model.layers.0.self_attn.q_proj.weight", 9), EPS);
        assertEquals(0.4, math.resolveNumber("weight", "model.layers.3.self_attn.q_proj.weight", 9), EPS);
        assertEquals(0.5, math.resolveNumber("weight", "model.layers.5.self_attn.o_proj.weight", 9), EPS);
        assertEquals(1.0, math.resolveNumber("weight", "model.layers.8.self_attn.v_proj.weight", 9), EPS);
        // mlp: [1, 0.5, 0.7, 0.3, 0]
        assertEquals(0.6, math.resolveNumber("weight", "model.layers.3.mlp.down_proj.weight", 9), EPS);
    }

    @Test
    void theEntryWithoutFilterIsTheDefault() {
        assertEquals(0.5, math.resolveNumber("weight", "model.layers.3.input_layernorm.weight", 9), EPS);
        assertEquals(0.5, math.resolveNumber("weight", "model.norm.weight", 9), EPS);
    }

    @Test
    void filtersAreTriedInOrder() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: linear
                models:
                  - model: a
                    parameters:
                      weight:
                        - {filter: mlp, value: 2}
                        - {filter: layers.1., value: 3}
                        - {value: 4}
                """);
        ParameterResolver a = r.parametersFor(r.models().get(0));
        assertEquals(2, a.resolveNumber("weight", "model.layers.1.mlp.up_proj.weight", 4), EPS);
        assertEquals(3, a.resolveNumber("weight", "model.layers.1.self_attn.q_proj.weight", 4), EPS);
        assertEquals(4, a.resolveNumber("weight", "model.layers.2.self_attn.q_proj.weight", 4), EPS);
    }

    @Test
    void theModelsOwnValueOverridesTheGlobalOne() {
        // global weight 0.9, ./code says 0.3
        assertEquals(0.3, code.resolveNumber("weight", "model.layers.0.mlp.up_proj.weight", 9), EPS);
    }

    @Test
    void aFilterListWithoutMatchFallsThroughToTheGlobalValue() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: task_arithmetic
                base_model: b
                models:
                  - model: a
                    parameters:
                      weight: [{filter: mlp, value: 2}]
                parameters:
                  weight: 0.25
                """);
        ParameterResolver a = r.parametersFor(r.models().get(0));
        assertEquals(2, a.resolveNumber("weight", "model.layers.1.mlp.up_proj.weight", 4), EPS);
        assertEquals(0.25, a.resolveNumber("weight", "model.layers.1.self_attn.k_proj.weight", 4), EPS);
    }

    @Test
    void aRequiredParameterThatNoLevelGivesIsAnErrorNamingModelAndTensor() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: task_arithmetic
                base_model: b
                models:
                  - model: a
                    parameters:
                      weight: [{filter: mlp, value: 2}]
                """);
        ParameterResolver a = r.parametersFor(r.models().get(0));
        var e = assertThrows(MergestreamException.class,
                () -> a.resolveNumber("weight", "model.norm.weight", 4));
        assertTrue(e.getMessage().startsWith("recipe.yml: models[0].parameters.weight: "), e.getMessage());
        assertTrue(e.getMessage().contains("model 'a' has no weight for tensor 'model.norm.weight'"), e.getMessage());
    }

    @Test
    void methodDefaultsApplyWhenNothingIsWritten() {
        Recipe dare = RecipeFixtures.load("dare_ties_base_listed.yml");
        ParameterResolver merge = dare.mergeParameters();
        assertFalse(merge.resolveBoolean("normalize", "t"));
        assertTrue(merge.resolveBoolean("rescale", "t"));
        assertEquals(1.0, merge.resolveNumber("lambda", "t", 1), EPS);
        assertEquals("weighted_sum", merge.resolveChoice("sign_election", "t"));

        ParameterResolver tiesMerge = RecipeFixtures.parse("""
                merge_method: ties
                base_model: b
                models: [{model: a, parameters: {weight: 1}}]
                """).mergeParameters();
        assertTrue(tiesMerge.resolveBoolean("normalize", "t"));
        assertFalse(tiesMerge.resolveBoolean("rescale", "t"));

        Recipe linear = RecipeFixtures.load("linear_plain_strings.yml");
        assertTrue(linear.mergeParameters().resolveBoolean("normalize", "t"));
        // density defaults to 1 where the method has it
        ParameterResolver aDefault = RecipeFixtures.parse("""
                merge_method: dare_linear
                base_model: b
                models: [{model: a, parameters: {weight: 1}}]
                """).mergeParameters();
        assertEquals(1.0, aDefault.resolveNumber("density", "t", 1), EPS);
    }

    @Test
    void theGlobalValueIsUsedForModelsWithoutTheirOwn() {
        Recipe linear = RecipeFixtures.load("linear_plain_strings.yml");
        for (ModelEntry m : linear.models()) {
            assertEquals(1.0, linear.parametersFor(m).resolveNumber("weight", "bert.embeddings.word_embeddings.weight", 12), EPS);
        }
    }

    @Test
    void askingForAParameterTheMethodDoesNotHaveIsAProgrammingError() {
        Recipe linear = RecipeFixtures.load("linear_plain_strings.yml");
        assertThrows(IllegalArgumentException.class, () -> linear.mergeParameters().resolveNumber("density", "t", 1));
        assertThrows(IllegalArgumentException.class, () -> linear.mergeParameters().resolveNumber("normalize", "t", 1));
    }

    @Test
    void layerIndexFindsTheBlockInSeveralNamingSchemes() {
        assertEquals(OptionalInt.of(12), ParameterResolver.layerIndex("model.layers.12.mlp.up_proj.weight"));
        assertEquals(OptionalInt.of(3), ParameterResolver.layerIndex("bert.encoder.layer.3.attention.self.query.weight"));
        assertEquals(OptionalInt.of(5), ParameterResolver.layerIndex("transformer.h.5.attn.c_attn.weight"));
        assertEquals(OptionalInt.of(7), ParameterResolver.layerIndex("blocks.7.ffn.weight"));
        assertEquals(OptionalInt.of(0), ParameterResolver.layerIndex("roberta.encoder.layer.0.output.dense.bias"));
        assertEquals(OptionalInt.empty(), ParameterResolver.layerIndex("model.embed_tokens.weight"));
        assertEquals(OptionalInt.empty(), ParameterResolver.layerIndex("lm_head.weight"));
        assertEquals(OptionalInt.empty(), ParameterResolver.layerIndex("transformer.wpe.weight"));
        assertEquals(OptionalInt.empty(), ParameterResolver.layerIndex("model.mylayers.3.weight"), "whole segment only");
    }

    @Test
    void gradientPositionSpreadsLayersOverZeroToOne() {
        assertEquals(0.0, ParameterResolver.gradientPosition(OptionalInt.empty(), 32), EPS);
        assertEquals(0.0, ParameterResolver.gradientPosition(OptionalInt.of(0), 1), EPS);
        assertEquals(1.0 / 3, ParameterResolver.gradientPosition(OptionalInt.of(1), 4), EPS);
        assertEquals(1.0, ParameterResolver.gradientPosition(OptionalInt.of(3), 4), EPS);
        assertThrows(IllegalArgumentException.class, () -> ParameterResolver.gradientPosition(OptionalInt.of(4), 4));
    }
}
