package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library API's contract, on the bundled tiny Llama family: recipes from files, strings and the builder; typed
 * failures that write nothing; directory, stream and memory outputs that agree byte for byte; listener events.
 * Cancellation is in {@link CancellationTest}, memory over many runs in {@link RepeatedMergeMemoryTest}.
 */
class MergeApiTest {

    static final Path RECIPES = Path.of("testdata/recipes").toAbsolutePath();
    static final Path FAMILY = Path.of("testdata/tiny-llama").toAbsolutePath();

    static MergeOptions.Builder quiet() {
        return MergeOptions.builder().threads(2);
    }

    /** The directory run's single shard, read back whole. */
    static byte[] directoryRun(MergeRecipe recipe, Path out) throws IOException {
        Merge.of(recipe, quiet().build()).run(out);
        return Files.readAllBytes(out.resolve("model.safetensors"));
    }

    @Test
    void streamSinkWritesTheDirectoryRunsSafetensorsByteForByte(@TempDir Path tmp) throws IOException {
        MergeRecipe recipe = MergeRecipe.fromFile(RECIPES.resolve("dare_ties.yml"));
        byte[] file = directoryRun(recipe, tmp.resolve("out"));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        RunResult r = Merge.of(recipe, quiet().threads(1).build()).run(new SafetensorsStream(Channels.newChannel(bytes)));
        assertArrayEquals(file, bytes.toByteArray());
        assertEquals("dare_ties", r.method());
        assertFalse(Files.exists(tmp.resolve("stream")), "a sink run writes no files");
    }

    @Test
    void memorySinkHoldsEveryTensorOfTheDirectoryRun(@TempDir Path tmp) throws IOException {
        MergeRecipe recipe = MergeRecipe.fromFile(RECIPES.resolve("ties.yml"));
        byte[] file = directoryRun(recipe, tmp.resolve("out"));
        Map<String, byte[]> expected = tensorsOf(file);
        try (InMemoryModel model = new InMemoryModel()) {
            Merge.of(recipe, quiet().build()).run(model);
            assertEquals(expected.keySet(), new java.util.HashSet<>(model.names()));
            for (OutputTensor t : model.tensors()) {
                assertArrayEquals(expected.get(t.name()), t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                        t.name());
                assertTrue(t.data().isReadOnly());
            }
            long sum = expected.values().stream().mapToLong(b -> b.length).sum();
            assertEquals(sum, model.byteSize());
            OutputTensor kept = model.tensors().getFirst();
            model.close();
            assertThrows(IllegalStateException.class, () -> kept.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        }
    }

    /** The tensors of a safetensors file by its own header (parsed here with Jackson, independently of the reader). */
    static Map<String, byte[]> tensorsOf(byte[] file) throws IOException {
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = new ObjectMapper().readTree(new String(file, 8, (int) n, StandardCharsets.UTF_8));
        Map<String, byte[]> out = new java.util.HashMap<>();
        for (Map.Entry<String, JsonNode> e : header.properties()) {
            if (e.getKey().equals("__metadata__")) continue;
            JsonNode off = e.getValue().get("data_offsets");
            int from = (int) (8 + n + off.get(0).asLong());
            int to = (int) (8 + n + off.get(1).asLong());
            out.put(e.getKey(), Arrays.copyOfRange(file, from, to));
        }
        return out;
    }

    @Test
    void aBuiltRecipeMergesAsTheSameRecipeWrittenInYaml(@TempDir Path tmp) throws IOException {
        MergeRecipe built = MergeRecipe.builder("dare_ties")
                .base(FAMILY.resolve("base").toString())
                .model(FAMILY.resolve("base").toString())
                .model(FAMILY.resolve("ft1").toString(), Map.of("weight", 0.5, "density", 0.3))
                .model(FAMILY.resolve("ft2").toString(), linked("weight", 0.3, "density", MergeRecipe.gradient(0.5, 0.2)))
                .model(FAMILY.resolve("ft3").toString(), linked("weight", 0.2, "density", 0.7))
                .parameter("normalize", true)
                .parameter("int8_mask", true)
                .dtype("bfloat16")
                .seed(20231103)
                .file(tmp.resolve("built.yml"))
                .build();
        byte[] fromBuilder = directoryRun(built, tmp.resolve("built"));
        byte[] fromFile = directoryRun(MergeRecipe.fromFile(RECIPES.resolve("dare_ties.yml")), tmp.resolve("file"));
        assertArrayEquals(fromFile, fromBuilder);
        assertTrue(built.yaml().contains("merge_method: dare_ties"), built.yaml());
    }

    @Test
    void builderFiltersAndSlicesAreRecipeSyntax() {
        MergeRecipe filtered = MergeRecipe.builder("linear")
                .model(FAMILY.resolve("ft1").toString(), Map.of("weight",
                        List.of(MergeRecipe.filter("self_attn", 0.7), MergeRecipe.otherwise(0.3))))
                .model(FAMILY.resolve("ft2").toString(), Map.of("weight", 1.0))
                .build();
        Plan p = Merge.of(filtered, quiet().build()).plan();
        assertEquals("linear", p.method());
        assertEquals(p.tensors().size(), p.mergedTensors(), "linear merges every tensor");

        MergeRecipe sliced = MergeRecipe.builder("slerp")
                .base(FAMILY.resolve("base").toString())
                .slice(MergeRecipe.source(FAMILY.resolve("base").toString(), 0, 2, Map.of()),
                        MergeRecipe.source(FAMILY.resolve("ft2").toString(), 0, 2, Map.of()))
                .parameter("t", MergeRecipe.gradient(0.3, 0.6))
                .build();
        assertEquals("slerp", Merge.of(sliced, quiet().build()).plan().method());

        BadRecipeException e = assertThrows(BadRecipeException.class, () -> MergeRecipe.builder("linear")
                .model(FAMILY.resolve("ft1").toString(), Map.of("weight", "heavy")).build());
        assertTrue(e.getMessage().contains("models[0].parameters.weight"), e.getMessage());
    }

    private static Map<String, Object> linked(String k1, Object v1, String k2, Object v2) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }

    @Test
    void badRecipesThrowBadRecipeException(@TempDir Path tmp) throws IOException {
        BadRecipeException unknown = assertThrows(BadRecipeException.class,
                () -> MergeRecipe.fromYaml("merge_method: frobnicate\nmodels:\n  - model: x\n"));
        assertTrue(unknown.getMessage().startsWith("recipe.yml: unknown merge_method 'frobnicate'"), unknown.getMessage());
        assertThrows(BadRecipeException.class, () -> MergeRecipe.fromYaml("merge_method: [unclosed\n"));
        assertThrows(BadRecipeException.class, () -> MergeRecipe.fromFile(tmp.resolve("missing.yml")));

        // lenient by default: an unknown key is a warning, to the listener and not to stderr; strict: the error
        String yaml = Files.readString(RECIPES.resolve("linear.yml")) + "name: my-merge\n";
        MergeRecipe recipe = MergeRecipe.fromYaml(yaml, RECIPES.resolve("with-name.yml"));
        List<String> warnings = Collections.synchronizedList(new ArrayList<>());
        Merge.of(recipe, quiet().listener(new MergeListener() {
            @Override
            public void warning(String message) {
                warnings.add(message);
            }
        }).build()).plan();
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.getFirst().contains("name: not a recipe key"), warnings.toString());
        Path out = tmp.resolve("out");
        BadRecipeException strict = assertThrows(BadRecipeException.class,
                () -> Merge.of(recipe, quiet().strict(true).build()).plan(out));
        assertTrue(strict.getMessage().contains("name: not a recipe key"), strict.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void planOnABadCheckpointThrowsAndWritesNothing(@TempDir Path tmp) throws IOException {
        Path models = tmp.resolve("models");
        Files.createDirectories(models);
        // ft1 with its header's length pointing past the end of the file
        Path broken = models.resolve("broken");
        Files.createDirectories(broken);
        byte[] good = Files.readAllBytes(FAMILY.resolve("ft1/model.safetensors"));
        ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, good.length + 100L);
        Files.write(broken.resolve("model.safetensors"), good);
        Files.copy(FAMILY.resolve("ft1/config.json"), broken.resolve("config.json"));
        MergeRecipe recipe = MergeRecipe.builder("linear")
                .model(FAMILY.resolve("ft2").toString(), Map.of("weight", 1.0))
                .model(broken.toString(), Map.of("weight", 1.0))
                .build();
        Path out = tmp.resolve("out");
        List<String> before = listing(tmp);
        BadCheckpointException e = assertThrows(BadCheckpointException.class, () -> Merge.of(recipe, quiet().build()).plan(out));
        assertTrue(e.getMessage().contains("broken"), e.getMessage());
        assertThrows(BadCheckpointException.class, () -> Merge.of(recipe, quiet().build()).run(out));
        assertEquals(before, listing(tmp), "nothing written");

        // a model that does not exist: bad input of the general kind
        MergeRecipe missing = MergeRecipe.builder("linear")
                .model(tmp.resolve("nowhere").toString(), Map.of("weight", 1.0))
                .model(FAMILY.resolve("ft2").toString(), Map.of("weight", 1.0))
                .build();
        BadInputException m = assertThrows(BadInputException.class, () -> Merge.of(missing, quiet().build()).plan(out));
        assertTrue(m.getMessage().contains("nowhere"), m.getMessage());
        assertEquals(before, listing(tmp), "nothing written");

        // the output rules: an output inside an input is refused by plan(out), before anything is made
        MergeRecipe fine = MergeRecipe.fromFile(RECIPES.resolve("linear.yml"));
        Path inside = FAMILY.resolve("ft1").resolve("out");
        assertThrows(BadInputException.class, () -> Merge.of(fine, quiet().build()).plan(inside));
        assertFalse(Files.exists(inside));
    }

    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void listenerSeesEveryTensorAndAllBytes(@TempDir Path tmp) {
        MergeRecipe recipe = MergeRecipe.fromFile(RECIPES.resolve("linear.yml"));
        List<String> started = Collections.synchronizedList(new ArrayList<>());
        List<String> finished = Collections.synchronizedList(new ArrayList<>());
        long[] last = new long[2];
        Plan[] planned = new Plan[1];
        MergeListener l = new MergeListener() {
            @Override
            public void started(Plan plan) {
                planned[0] = plan;
            }

            @Override
            public void tensorStarted(String name, int index, int count) {
                assertEquals(started.size(), index);
                started.add(name);
            }

            @Override
            public synchronized void chunkFinished(String tensor, long bytesDone, long bytesTotal) {
                last[0] = Math.max(last[0], bytesDone);
                last[1] = bytesTotal;
            }

            @Override
            public void tensorFinished(String name, int index, int count) {
                assertEquals(started.getLast(), name);
                finished.add(name);
            }
        };
        Merge merge = Merge.of(recipe, quiet().chunkElements(1000).listener(l).build());
        Plan plan = merge.plan();
        RunResult r = merge.run(tmp.resolve("out"));
        assertEquals(plan.tensors().stream().map(Plan.Tensor::name).toList(), started);
        assertEquals(started, finished);
        assertEquals(plan.tensors().size(), r.tensors());
        assertEquals(plan.inputBytes(), last[1]);
        assertEquals(plan.inputBytes(), planned[0].inputBytes());
        assertEquals(plan.tensors().size(), planned[0].tensors().size());
        // per-chunk byte counts are the input bytes of each chunk's elements, rounded down: within one per chunk
        long chunks = plan.tensors().stream().mapToLong(t -> (t.outputBytes() / 2 + 999) / 1000).sum();
        assertTrue(last[0] <= plan.inputBytes() && last[0] >= plan.inputBytes() - chunks, last[0] + " of " + plan.inputBytes());
    }

    @Test
    void optionsCheckTheirValues() {
        assertThrows(IllegalArgumentException.class, () -> MergeOptions.builder().threads(0));
        assertThrows(IllegalArgumentException.class, () -> MergeOptions.builder().chunkElements(0));
        assertThrows(IllegalArgumentException.class, () -> MergeOptions.builder().shardBytes(0));
        MergeOptions d = MergeOptions.defaults();
        assertEquals(MergeOptions.Kernel.AUTO, d.kernel());
        assertTrue(d.seed().isEmpty());
    }
}
