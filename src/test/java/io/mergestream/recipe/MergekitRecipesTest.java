package io.mergestream.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.cli.Main;
import io.mergestream.format.Json;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.Planner;
import io.mergestream.plan.TensorJob;
import io.mergestream.testdata.FamilyGenerator;
import io.mergestream.testdata.FamilySpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The recipes mergekit itself runs, as mergestream must accept them: the 49 configurations its
 * {@code tests/test_basic_merges.py} builds in Python (written out as YAML) and its {@code examples/*.yml}, under
 * {@code src/test/resources/io/mergestream/recipe/mergekit/}, each with a header saying where it came from, which
 * local model stands for each of mergekit's, and what to expect:
 * <ul>
 *   <li>{@code expect-tensors: N} / {@code expect-layers: N}: the plan has N tensors / N output layers;</li>
 *   <li>{@code expect-warnings: P, Q}: exactly these key paths are warned about (what mergekit ignores, such as
 *       a {@code weight} on slerp), and {@code --strict} refuses the recipe;</li>
 *   <li>{@code expect-error: P}: mergekit itself rejects the recipe, and mergestream gives a one-line error at P.
 *       There is one: {@code della_invalid_epsilon} (mergekit's test expects a ValueError: density 0.66 ± epsilon
 *       1.35 leaves [0, 1]);</li>
 *   <li>{@code expect-pending-method: M}: mergekit has method M and mergestream gets it on another branch
 *       ({@code arcee_fusion}): accepted once the catalogue has it, until then refused as an unknown method
 *       and nothing else.</li>
 * </ul>
 * Local models: {@code testdata/tiny-llama} for mergekit's pico Llamas; generated families under {@code gen/} for
 * the others (their GPT-2 of 12 layers is a BERT of 12 layers here, their LLaVA and Granite are Llamas of other
 * shapes, the 13B models of the examples a Llama of 40 layers). Every recipe is planned exactly as a
 * {@code --dry-run} plans it; the examples are also merged.
 */
class MergekitRecipesTest {

    private static final String ROOT = "mergekit/";

    @TempDir
    static Path dir;

    @BeforeAll
    static void families() {
        Path gen = dir.resolve("gen");
        generate(FamilySpec.llama().withLayers(3).withHidden(32).withIntermediate(48).withVocab(96).withHeads(4)
                .withFineTunes(2), gen.resolve("vlm"));
        generate(FamilySpec.llama().withHidden(48).withIntermediate(64).withVocab(80).withHeads(4).withFineTunes(2),
                gen.resolve("granite"));
        generate(FamilySpec.bert().withLayers(12).withHidden(16).withIntermediate(32).withVocab(64).withFineTunes(0),
                gen.resolve("gpt2"));
        generate(FamilySpec.llama().withLayers(40).withHidden(16).withIntermediate(32).withVocab(64).withHeads(2)
                .withFineTunes(3), gen.resolve("llama40"));
    }

    private static void generate(FamilySpec spec, Path out) {
        new FamilyGenerator(spec, 1).generate(out, false);
    }

    static Stream<String> basicMerges() throws IOException {
        return list("test_basic_merges");
    }

    static Stream<String> examples() throws IOException {
        return list("examples");
    }

    private static Stream<String> list(String folder) throws IOException {
        Path d = RecipeFixtures.resource(ROOT + folder);
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> folder + "/" + p.getFileName()).filter(n -> n.endsWith(".yml")).sorted().toList().stream();
        }
    }

    @Test
    void everyConfigurationOfMergekitsTestsAndEveryExampleIsHere() throws IOException {
        assertEquals(49, basicMerges().count(), "the 49 configurations tests/test_basic_merges.py builds");
        assertEquals(List.of("examples/arcee_fusion.yml", "examples/bio-merge.yml", "examples/gradient-slerp.yml",
                "examples/linear.yml", "examples/orcamini-platy-44layer.yml", "examples/ties.yml"), examples().toList());
    }

    @ParameterizedTest
    @MethodSource("basicMerges")
    void mergekitsTestConfigurationIsAcceptedUnlessMergekitRejectsIt(String name) throws IOException {
        check(name);
    }

    @ParameterizedTest
    @MethodSource("examples")
    void mergekitsExampleIsAcceptedAndMerges(String name) throws IOException {
        Optional<MergePlan> planned = check(name);
        if (planned.isEmpty()) return;
        Path recipe = copy(name);
        Path out = dir.resolve("out-" + recipe.getFileName());
        assertEquals(0, Main.run("merge", recipe.toString(), "-o", out.toString(), "-q"), name);
        Map<String, String> expect = expectations(recipe);
        if (expect.containsKey("layers")) {
            assertEquals(Integer.parseInt(expect.get("layers")),
                    Json.read(out.resolve("config.json")).get("num_hidden_layers").asInt(), "num_hidden_layers");
        }
    }

    /** Plans the recipe (as a dry run does) and checks its header's expectations; empty when it is refused. */
    private Optional<MergePlan> check(String name) throws IOException {
        Path recipe = copy(name);
        Map<String, String> expect = expectations(recipe);
        String file = recipe.toString();
        String pending = expect.get("pending-method");
        if (pending != null && MethodCatalog.find(pending).isEmpty()) {
            var e = assertThrows(MergestreamException.class, () -> Recipe.load(recipe));
            assertEquals(file + ": unknown merge_method '" + pending + "'", e.getMessage().replaceFirst(" \\(known:.*", ""));
            return Optional.empty();
        }
        if (expect.containsKey("error")) {
            List<String> warnings = RecipeFixtures.warningsOf(() -> {
                var e = assertThrows(MergestreamException.class, () -> plan(recipe));
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
                assertTrue(e.getMessage().startsWith(file + ": " + expect.get("error") + ": "), e.getMessage());
            });
            assertEquals(List.of(), warnings);
            return Optional.empty();
        }
        List<MergePlan> plans = new ArrayList<>();
        List<String> warnings = RecipeFixtures.warningsOf(() -> plans.add(plan(recipe)));
        try (MergePlan plan = plans.get(0)) {
            assertEquals(expectedWarnings(expect), warnedPaths(file, warnings), "warnings: " + warnings);
            if (!warnings.isEmpty()) {
                assertThrows(MergestreamException.class, () -> Recipe.load(recipe, true), "--strict refuses it");
            }
            assertEquals(Recipe.load(recipe).methodName(), plan.method().name());
            if (expect.containsKey("tensors")) {
                assertEquals(Integer.parseInt(expect.get("tensors")), plan.jobs().size(), "tensors");
                assertEquals(OptionalInt.empty(), plan.outputLayers());
            }
            if (expect.containsKey("layers")) {
                int layers = Integer.parseInt(expect.get("layers"));
                assertEquals(OptionalInt.of(layers), plan.outputLayers());
                TreeSet<Integer> seen = new TreeSet<>();
                for (TensorJob j : plan.jobs()) ParameterResolver.layerIndex(j.name()).ifPresent(seen::add);
                assertEquals(0, seen.first());
                assertEquals(layers - 1, seen.last());
                assertEquals(layers, seen.size());
            }
            return Optional.of(plan);
        }
    }

    private static MergePlan plan(Path recipe) {
        Recipe r = Recipe.load(recipe);
        return Planner.plan(r, r.seed());
    }

    /** The recipe next to the generated families, so that {@code gen/...} resolves against its directory. */
    private static Path copy(String name) throws IOException {
        Path target = dir.resolve(name.replace('/', '-'));
        try (InputStream in = RecipeFixtures.class.getResourceAsStream(ROOT + name)) {
            Files.write(target, in.readAllBytes());
        }
        return target;
    }

    private static Map<String, String> expectations(Path recipe) throws IOException {
        Map<String, String> expect = new LinkedHashMap<>();
        for (String line : Files.readAllLines(recipe)) {
            if (!line.startsWith("# expect-")) continue;
            int colon = line.indexOf(':');
            expect.put(line.substring("# expect-".length(), colon), line.substring(colon + 1).strip());
        }
        return expect;
    }

    private static List<String> expectedWarnings(Map<String, String> expect) {
        String w = expect.get("warnings");
        return w == null ? List.of() : Arrays.stream(w.split(",\\s*")).sorted().toList();
    }

    /** Each warning's key path: the text between "FILE: " and the next ": ". */
    private static List<String> warnedPaths(String file, List<String> warnings) {
        return warnings.stream().map(w -> {
            assertTrue(w.startsWith(file + ": "), w);
            String rest = w.substring(file.length() + 2);
            return rest.substring(0, rest.indexOf(": "));
        }).sorted().toList();
    }
}
