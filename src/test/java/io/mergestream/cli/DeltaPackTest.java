package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import net.jpountz.xxhash.XXHashFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delta packs against their definition: {@code apply(pack(M))} is byte for byte what {@code dare} writes with the
 * same options, and a recipe over packs is byte for byte the recipe over the fine-tunes; malformed packs are one
 * line each. The reference is the existing {@code dare} / {@code merge} (their own tests check them element by
 * element against the keep-mask and merge-semantics.md).
 */
class DeltaPackTest {

    static final String UP = "model.layers.0.mlp.up_proj.weight";
    static final String Q = "model.layers.0.self_attn.q_proj.weight";
    static final String HEAD = "lm_head.weight";
    static final String SCORE = "score.weight";

    @TempDir
    static Path dir;

    /** base and fine-tunes per dtype pair: base dtype, fine-tune dtype. */
    static Path base16, ft16, ft16b, ft16c, base32, ftMixed, baseF16, ftF16;

    @BeforeAll
    static void write() throws IOException {
        Random rnd = new Random(11);
        // sizes that are not multiples of the block (65536) nor of the small test block (1000)
        float[] up = ToolboxDareTest.gaussian(rnd, 300 * 257, 0.02f);
        float[] q = ToolboxDareTest.gaussian(rnd, 64 * 129, 0.02f);
        float[] head = ToolboxDareTest.gaussian(rnd, 16 * 64, 0.02f);
        base16 = model("base16", DType.BF16, up, q, head, null, rnd, false, Long.MAX_VALUE);
        ft16 = model("ft16", DType.BF16, up, q, head, ToolboxDareTest.gaussian(rnd, 192, 1f), rnd, true, 60000);
        ft16b = model("ft16b", DType.BF16, up, q, head, null, rnd, true, Long.MAX_VALUE);
        ft16c = model("ft16c", DType.BF16, up, q, head, null, rnd, true, Long.MAX_VALUE);
        base32 = model("base32", DType.F32, up, q, head, null, rnd, false, Long.MAX_VALUE);
        ftMixed = model("ftMixed", DType.BF16, up, q, head, null, rnd, true, Long.MAX_VALUE);
        baseF16 = model("baseF16", DType.F16, up, q, head, null, rnd, false, Long.MAX_VALUE);
        ftF16 = model("ftF16", DType.F16, up, q, head, null, rnd, true, Long.MAX_VALUE);
        for (Path ft : List.of(ft16, ft16b, ftMixed, ftF16)) {
            Files.writeString(ft.resolve("config.json"), "{\"architectures\": [\"FineTuned\"], \"torch_dtype\": \"bfloat16\"}");
            Files.writeString(ft.resolve("tokenizer.json"), "{\"fine\": \"tune\"}");
        }
        Files.writeString(base16.resolve("config.json"), "{\"architectures\": [\"Base\"]}");
    }

    static Path model(String name, DType dtype, float[] up, float[] q, float[] head, float[] score, Random rnd,
                      boolean perturb, long shard) {
        TestModels.Model m = new TestModels.Model()
                .put(UP, new long[] {300, 257}, perturb ? ToolboxDareTest.perturb(rnd, up) : up)
                .put(Q, new long[] {64, 129}, perturb ? ToolboxDareTest.perturb(rnd, q) : q)
                .put(HEAD, new long[] {16, 64}, perturb ? ToolboxDareTest.perturb(rnd, head) : head);
        if (score != null) m.put(SCORE, new long[] {3, 64}, score);
        return TestModels.write(dir.resolve(name), dtype, m, shard);
    }

    static CliRun ok(String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(0, r.code(), String.join(" ", args) + ": " + r.err());
        return r;
    }

    static List<String> concat(List<String> a, String... b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(List.of(b));
        return out;
    }

    /** Every tensor file and the index, byte for byte. */
    static void assertSameWeights(Path expected, Path actual) throws IOException {
        List<String> names;
        try (Stream<Path> s = Files.list(expected)) {
            names = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".safetensors") || n.endsWith(".index.json") || n.equals("config.json")
                            || n.equals("tokenizer.json"))
                    .sorted().toList();
        }
        assertFalse(names.isEmpty());
        try (Stream<Path> s = Files.list(actual)) {
            assertEquals(names, s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".safetensors") || n.endsWith(".index.json") || n.equals("config.json")
                            || n.equals("tokenizer.json"))
                    .sorted().toList());
        }
        for (String n : names) {
            assertArrayEquals(Files.readAllBytes(expected.resolve(n)), Files.readAllBytes(actual.resolve(n)), n);
        }
    }

    /** dare with {@code options}, and pack + apply with the same, must write the same weights. */
    static void roundTrip(String tag, Path base, Path ft, List<String> options, List<String> packOnly,
                          List<String> applyOnly) throws IOException {
        Path dare = dir.resolve("dare-" + tag);
        Path pack = dir.resolve(tag + ".mspack");
        Path applied = dir.resolve("apply-" + tag);
        List<String> common = List.of("--base", base.toString());
        ok(concat(concat(concat(List.of("dare"), common.toArray(String[]::new)), "--model", ft.toString(), "-o",
                dare.toString(), "-q", "--out-shard-size", "50KB"), options.toArray(String[]::new)).toArray(String[]::new));
        // the same options: pack records the rescale rule that apply then uses
        List<String> packArgs = concat(List.of("pack", "--base", base.toString(), "--model", ft.toString(), "-o",
                pack.toString(), "-q"), options.toArray(String[]::new));
        packArgs.addAll(packOnly);
        ok(packArgs.toArray(String[]::new));
        ok(concat(List.of("apply", "--base", base.toString(), pack.toString(), "-o", applied.toString(), "-q",
                "--out-shard-size", "50KB"), applyOnly.toArray(String[]::new)).toArray(String[]::new));
        assertSameWeights(dare, applied);
    }

    @Test
    void applyOfPackIsDareForRandomOverDtypesAndRescaleRules() throws IOException {
        for (String rescale : List.of("inverse", "l1", "none")) {
            List<String> o = List.of("--density", "0.1", "--seed", "5", "--rescale", rescale, "--exclude", "score\\.");
            roundTrip("bf16-" + rescale, base16, ft16, o, List.of(), List.of());
            roundTrip("f16-" + rescale, baseF16, ftF16, o.subList(0, 6), List.of(), List.of());
            roundTrip("mixed-" + rescale, base32, ftMixed, o.subList(0, 6), List.of(), List.of());
        }
    }

    @Test
    void applyOfPackIsDareForMagnitude() throws IOException {
        for (String rescale : List.of("inverse", "l1")) {
            List<String> o = List.of("--drop-rate", "0.8", "--strategy", "magnitude", "--rescale", rescale,
                    "--exclude", "score\\.", "--exclude", "lm_head\\.");
            roundTrip("mag-bf16-" + rescale, base16, ft16, o, List.of(), List.of());
            roundTrip("mag-mixed-" + rescale, base32, ftMixed, o.subList(0, 6), List.of(), List.of());
        }
    }

    @Test
    void packIsTheSameForAnyThreadsAndApplyForAnyChunkSize() throws IOException {
        List<String> o = List.of("--density", "0.3", "--seed", "9", "--exclude", "score\\.");
        roundTrip("blocks-small", base16, ft16, o, List.of("--block-elements", "1000", "--threads", "1"),
                List.of("--chunk-size", "777", "--threads", "2"));
        Path a = dir.resolve("t1.mspack"), b = dir.resolve("t2.mspack");
        ok("pack", "--base", base16.toString(), "--model", ft16.toString(), "--density", "0.3", "--exclude", "score\\.",
                "--threads", "1", "-q", "-o", a.toString());
        ok("pack", "--base", base16.toString(), "--model", ft16.toString(), "--density", "0.3", "--exclude", "score\\.",
                "--threads", "2", "-q", "-o", b.toString());
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    }

    @Test
    void applyOverridesTheRecordedRescale() throws IOException {
        List<String> o = List.of("--density", "0.2", "--seed", "3", "--rescale", "l1", "--exclude", "score\\.");
        Path dare = dir.resolve("dare-override");
        ok(concat(List.of("dare", "--base", base16.toString(), "--model", ft16.toString(), "-o", dare.toString(), "-q",
                "--out-shard-size", "50KB"), o.toArray(String[]::new)).toArray(String[]::new));
        Path pack = dir.resolve("override.mspack");
        ok("pack", "--base", base16.toString(), "--model", ft16.toString(), "--density", "0.2", "--seed", "3",
                "--exclude", "score\\.", "-q", "-o", pack.toString());
        Path applied = dir.resolve("apply-override");
        ok("apply", "--base", base16.toString(), pack.toString(), "--rescale", "l1", "-o", applied.toString(), "-q",
                "--out-shard-size", "50KB");
        assertSameWeights(dare, applied);
    }

    static Path recipe(String name, String text) throws IOException {
        Path p = dir.resolve(name + ".yaml");
        Files.writeString(p, text);
        return p;
    }

    @Test
    void mergingFromPacksIsMergingTheFineTunes() throws IOException {
        Path p1 = dir.resolve("m1.mspack"), p2 = dir.resolve("m2.mspack");
        ok("pack", "--base", base16.toString(), "--model", ft16c.toString(), "--density", "0.3", "--seed", "4",
                "--ordinal", "0", "-q", "-o", p1.toString());
        ok("pack", "--base", base16.toString(), "--model", ft16b.toString(), "--density", "0.5", "--seed", "4",
                "--ordinal", "1", "-q", "-o", p2.toString());
        String template = """
                merge_method: METHOD
                base_model: BASE
                models:
                  - model: FT1
                    parameters: {weight: 0.6, density: 0.3}
                  - model: FT2
                    parameters: {weight: 0.5, density: 0.5}
                parameters: {RESCALE}
                """;
        for (String method : List.of("dare_linear", "dare_ties")) {
            for (String rescale : List.of("rescale: inverse", "rescale: true", "normalize: false")) {
                String t = template.replace("METHOD", method).replace("RESCALE", rescale).replace("BASE", base16.toString());
                String tag = method + "-" + rescale.replaceAll("[^a-z]", "");
                Path fromModels = dir.resolve("rm-" + tag), fromPacks = dir.resolve("rp-" + tag);
                ok("merge", recipe("models-" + tag, t.replace("FT1", ft16c.toString()).replace("FT2", ft16b.toString()))
                        .toString(), "--seed", "4", "-q", "-o", fromModels.toString());
                List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
                io.mergestream.Warnings.Listener previous = io.mergestream.Warnings.set(warnings::add);
                try {
                    ok("merge", recipe("packs-" + tag, t.replace("FT1", p1.toString()).replace("FT2", p2.toString()))
                            .toString(), "--seed", "4", "-q", "-o", fromPacks.toString());
                } finally {
                    io.mergestream.Warnings.set(previous);
                }
                assertTrue(warnings.isEmpty(), warnings.toString());
                assertArrayEquals(Files.readAllBytes(fromModels.resolve("model.safetensors")),
                        Files.readAllBytes(fromPacks.resolve("model.safetensors")), tag);
            }
        }
    }

    @Test
    void otherMethodsSeeTheDaredModel() throws IOException {
        Path p = dir.resolve("lin.mspack");
        ok("pack", "--base", base16.toString(), "--model", ft16b.toString(), "--density", "0.4", "-q", "-o", p.toString());
        Path applied = dir.resolve("lin-applied");
        ok("apply", "--base", base16.toString(), p.toString(), "-q", "-o", applied.toString());
        String t = """
                merge_method: linear
                base_model: BASE
                models:
                  - model: BASE
                    parameters: {weight: 0.3}
                  - model: FT
                    parameters: {weight: 0.7}
                """.replace("BASE", base16.toString());
        Path a = dir.resolve("lin-a"), b = dir.resolve("lin-b");
        ok("merge", recipe("lin-a", t.replace("FT", applied.toString())).toString(), "-q", "-o", a.toString());
        ok("merge", recipe("lin-b", t.replace("FT", p.toString())).toString(), "-q", "-o", b.toString());
        assertArrayEquals(Files.readAllBytes(a.resolve("model.safetensors")), Files.readAllBytes(b.resolve("model.safetensors")));
        // dare_linear at another density drops again from the DARE'd model, and says so
        String d = """
                merge_method: dare_linear
                base_model: BASE
                models:
                  - model: FT
                    parameters: {weight: 1.0, density: 0.5}
                parameters: {rescale: inverse}
                """.replace("BASE", base16.toString());
        Path c = dir.resolve("lin-c"), e = dir.resolve("lin-e");
        ok("merge", recipe("lin-c", d.replace("FT", applied.toString())).toString(), "-q", "-o", c.toString());
        List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        io.mergestream.Warnings.Listener previous = io.mergestream.Warnings.set(warnings::add);
        try {
            ok("merge", recipe("lin-e", d.replace("FT", p.toString())).toString(), "-q", "-o", e.toString());
        } finally {
            io.mergestream.Warnings.set(previous);
        }
        assertTrue(warnings.stream().anyMatch(w -> w.contains("dropped again")), warnings.toString());
        assertArrayEquals(Files.readAllBytes(c.resolve("model.safetensors")), Files.readAllBytes(e.resolve("model.safetensors")));
    }

    // ---- malformed packs: one line each, exit 2, no output left

    static Path goodPack() {
        Path p = dir.resolve("good.mspack");
        if (!Files.exists(p)) {
            ok("pack", "--base", base16.toString(), "--model", ft16b.toString(), "--density", "0.5", "-q", "-o", p.toString());
        }
        return p;
    }

    static void assertRefused(Path pack, Path base, String... expected) {
        Path out = dir.resolve("refused-" + pack.getFileName());
        CliRun r = CliRun.of("apply", "--base", base.toString(), pack.toString(), "-q", "-o", out.toString());
        assertEquals(2, r.code(), r.err());
        String err = r.err().strip();
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.contains(pack.getFileName().toString()), err);
        for (String e : expected) assertTrue(err.contains(e), err);
        assertFalse(Files.exists(out), "no output is left");
    }

    static long headerLength(byte[] b) {
        return ByteBuffer.wrap(b, 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Test
    void truncatedPackIsOneLine() throws IOException {
        byte[] b = Files.readAllBytes(goodPack());
        for (int cut : new int[] {5, 20, (int) headerLength(b) / 2, b.length - 100}) {
            Path p = dir.resolve("trunc-" + cut + ".mspack");
            Files.write(p, Arrays.copyOf(b, cut));
            assertRefused(p, base16);
        }
        Path p = dir.resolve("trunc-end.mspack");
        Files.write(p, Arrays.copyOf(b, b.length - 100));
        assertRefused(p, base16, "truncated");
    }

    @Test
    void badChecksumIsOneLine() throws IOException {
        byte[] b = Files.readAllBytes(goodPack());
        byte[] data = b.clone();
        data[b.length - 50] ^= 0x10; // in the last block's bytes
        Path p = dir.resolve("badsum.mspack");
        Files.write(p, data);
        assertRefused(p, base16, "corrupt", "tensor '");
        byte[] header = b.clone();
        header[16 + 40] ^= 0x01; // in the JSON header
        Path h = dir.resolve("badheader.mspack");
        Files.write(h, header);
        assertRefused(h, base16, "header checksum mismatch");
    }

    @Test
    void wrongBaseIsRefusedNamingTheTensor() {
        assertRefused(goodPack(), ft16, "tensor '", "differ from the base this pack was made from");
        assertRefused(goodPack(), base32, "tensor '", "in the base the pack was made from");
    }

    @Test
    void futureVersionIsOneLine() throws IOException {
        byte[] b = Files.readAllBytes(goodPack());
        int len = (int) headerLength(b);
        String json = new String(b, 16, len, StandardCharsets.UTF_8);
        assertTrue(json.contains("\"version\":1,"), json.substring(0, 80));
        byte[] newer = json.replace("\"version\":1,", "\"version\":2,").getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(b.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(b, 0, 8).putLong(newer.length).put(newer)
                .putLong(XXHashFactory.safeInstance().hash64().hash(newer, 0, newer.length, 0))
                .put(b, 16 + len + 8, b.length - (16 + len + 8));
        Path p = dir.resolve("future.mspack");
        Files.write(p, out.array());
        assertRefused(p, base16, "version 2 is newer");
    }

    @Test
    void inspectShowsWhatAPackHolds() {
        CliRun r = ok("inspect", goodPack().toString(), "--tensors");
        assertTrue(r.out().contains("density 0.5"), r.out());
        assertTrue(r.out().contains("base16"), r.out());
        assertTrue(r.out().contains(UP), r.out());
    }
}
