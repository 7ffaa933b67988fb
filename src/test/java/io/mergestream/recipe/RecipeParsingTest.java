package io.mergestream.recipe;

import io.mergestream.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

class RecipeParsingTest {

    @Test
    void daresTiesWithTheBaseListedAmongTheModels() {
        Recipe r = RecipeFixtures.load("dare_ties_base_listed.yml");
        assertEquals("dare_ties", r.methodName());
        assertEquals(Optional.of("mistralai/Mistral-7B-v0.1"), r.baseModel());
        assertEquals(4, r.models().size());
        assertTrue(r.models().get(0).parameters().isEmpty());
        assertEquals(List.of("samir-fama/SamirGPT-v1", "abacusai/Slerp-CM-mist-dpo", "EmbeddedLLM/Mistral-7B-Merge-14-v0.2"),
                r.fineTunes().stream().map(ModelEntry::model).toList());
        assertEquals(r.fineTunes(), r.mergedModels());
        assertEquals(Optional.of(DType.BF16), r.dtype());
        assertEquals(Optional.empty(), r.outDtype());
        assertEquals(42L, r.seed());
        assertTrue(r.yaml().contains("No parameters necessary for base model"), "keeps the raw text, comments too");
        assertTrue(r.path().endsWith("dare_ties_base_listed.yml"));
    }

    @Test
    void fineTuneIndexCountsOnlyNonBaseModelsInRecipeOrder() {
        Recipe r = RecipeFixtures.load("dare_ties_base_listed.yml");
        assertEquals(0, r.fineTuneIndex(r.models().get(1)));
        assertEquals(2, r.fineTuneIndex(r.models().get(3)));
        assertThrows(IllegalArgumentException.class, () -> r.fineTuneIndex(r.models().get(0)));
    }

    @Test
    void excludeRegexesAreAnchoredAtTheStartOfTheName() {
        Recipe r = RecipeFixtures.load("dare_ties_base_listed.yml");
        assertTrue(r.isExcluded("lm_head.weight"));
        assertTrue(r.isExcluded("classifier.out_proj.bias"));
        assertFalse(r.isExcluded("model.classifier.weight"), "anchored: not found in the middle");
        assertFalse(r.isExcluded("model.layers.0.mlp.up_proj.weight"));
    }

    @Test
    void tiesRecipeWithGradientsFiltersAndBothDtypes() {
        Recipe r = RecipeFixtures.load("ties_gradients.yml");
        assertEquals("ties", r.methodName());
        assertEquals(List.of("./math", "./code"), r.fineTunes().stream().map(ModelEntry::model).toList());
        assertEquals(Optional.of(DType.F16), r.dtype());
        assertEquals(Optional.of(DType.BF16), r.outDtype());
        assertEquals(Optional.of("base"), r.tokenizerSource());
        assertEquals(new Setting.Gradient(List.of(1.0, 0.7, 0.1)), r.models().get(1).parameters().get("density").orElseThrow());
        Setting.Conditional weight = (Setting.Conditional) r.models().get(1).parameters().get("weight").orElseThrow();
        assertEquals(3, weight.conditions().size());
        assertEquals(Optional.empty(), weight.conditions().get(2).filter());
        assertEquals(0L, r.seed(), "seed defaults to 0");
        assertEquals(List.of(), r.exclude());
    }

    @Test
    void modelsMayBePlainStringsAndLinearMergesEveryListedModel() {
        Recipe r = RecipeFixtures.load("linear_plain_strings.yml");
        assertEquals(List.of("./bert-sst2", "./bert-mrpc"), r.models().stream().map(ModelEntry::model).toList());
        assertEquals(Optional.empty(), r.baseModel());
        assertEquals(r.models(), r.mergedModels());
        assertEquals(List.of("classifier\\.", "bert\\.pooler"), r.exclude().stream().map(Pattern::pattern).toList());
    }

    @Test
    void largestUnsignedSeedKeepsAll64Bits() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: linear
                models: [{model: a, parameters: {weight: 1}}]
                seed: 18446744073709551615
                """);
        assertEquals(-1L, r.seed());
        assertEquals("18446744073709551615", Long.toUnsignedString(r.seed()));
    }

    @Test
    void numbersWrittenWithoutADotAreStillNumbers() {
        // YAML 1.1 reads 1e-3 as a string
        Recipe r = RecipeFixtures.parse("""
                merge_method: task_arithmetic
                base_model: b
                models: [{model: a, parameters: {weight: 1e-3}}]
                """);
        assertEquals(new Setting.Scalar(1e-3), r.models().get(0).parameters().get("weight").orElseThrow());
    }

    @Test
    void linearWeightsSummingToZeroAreFineWithoutNormalize() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: linear
                models:
                  - {model: a, parameters: {weight: 1}}
                  - {model: b, parameters: {weight: -1}}
                parameters: {normalize: false}
                """);
        assertEquals(2, r.mergedModels().size());
    }

    @Test
    void int8MaskAndSignElectionAreAcceptedGlobally() {
        Recipe r = RecipeFixtures.parse("""
                merge_method: ties
                base_model: b
                models: [{model: a, parameters: {weight: 1, density: 0.2}}]
                parameters: {int8_mask: true, sign_election: count, rescale: true, lambda: 0.8}
                """);
        assertEquals("count", r.mergeParameters().resolveChoice("sign_election", "x"));
        assertTrue(r.mergeParameters().resolveBoolean("rescale", "x"));
        assertEquals(0.8, r.mergeParameters().resolveNumber("lambda", "x", 1));
    }
}
