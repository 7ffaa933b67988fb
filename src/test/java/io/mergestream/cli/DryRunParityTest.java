package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, the planning part: {@code --dry-run} fails exactly when the run would (a malformed config.json, a
 * negative token id, a non-empty {@code -o}), the same model under two spellings is refused, and the warnings for
 * an {@code exclude} regex that matches nothing and a missing config.json. Every failure is one line, exit 2, and
 * the run leaves no output.
 */
class DryRunParityTest {

    @TempDir
    Path dir;

    Path family;

    /** What one {@code mergestream merge} printed. */
    record Result(int code, String out, List<String> errLines) {}

    @BeforeEach
    void copyFamily() throws IOException {
        family = dir.resolve("fam");
        Path from = Path.of("testdata/tiny-llama");
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path to = family.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(to);
                else Files.copy(p, to);
            }
        }
    }

    private static final String TA = """
            merge_method: task_arithmetic
            base_model: fam/base
            models:
              - {model: fam/ft1, parameters: {weight: 0.5}}
              - {model: fam/ft2, parameters: {weight: 0.5}}
            """;

    Result merge(String recipeText, String out, String... options) throws IOException {
        Path recipe = dir.resolve("r.yml");
        Files.writeString(recipe, recipeText);
        List<String> args = new ArrayList<>(List.of("merge", recipe.toString(), "-o", dir.resolve(out).toString(), "-q"));
        args.addAll(List.of(options));
        StringWriter stdout = new StringWriter();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = Main.run(new PrintWriter(stdout), new PrintWriter(new java.io.OutputStreamWriter(System.err,
                    StandardCharsets.UTF_8), true), args.toArray(String[]::new));
        } finally {
            System.setErr(old);
        }
        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("mergestream:")).toList();
        return new Result(code, stdout.toString(), lines);
    }

    /** The dry run and the run fail alike: exit 2, the same one line, no output directory. */
    private String bothFail(String recipe) throws IOException {
        Result dry = merge(recipe, "out", "--dry-run");
        Result run = merge(recipe, "out");
        assertEquals(2, dry.code(), dry.toString());
        assertEquals(2, run.code(), run.toString());
        assertEquals(1, dry.errLines().size(), dry.toString());
        assertEquals(dry.errLines(), run.errLines());
        assertFalse(Files.exists(dir.resolve("out")));
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".partial-")), "no staging left");
        }
        return dry.errLines().get(0);
    }

    @Test
    void anOutputWhereNothingCanBeCreatedFailsTheDryRunAsTheRun() throws IOException {
        // /proc takes no new entry, even from root, to whom access(2) calls it writable
        Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "no procfs here");
        for (String out : List.of("/proc/foo/x", "/proc/x")) {
            Result run = merge(TA, out);
            Result dry = merge(TA, out, "--dry-run");
            assertEquals(1, run.code(), run.toString());
            assertEquals(1, dry.code(), dry.toString());
            assertEquals(1, dry.errLines().size(), dry.toString());
            assertEquals(run.errLines(), dry.errLines());
            assertEquals("", dry.out(), "no plan printed for a run that would fail");
        }
    }

    @Test
    void aDryRunLeavesNoProbeBehind() throws IOException {
        assertEquals(0, merge(TA, "out", "--dry-run").code());
        assertEquals(0, merge(TA, "new/deeper/out", "--dry-run").code());
        // the family and the recipe merge() wrote: no probe file beside out, no probe directory for new/
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("fam", "r.yml"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void theBaseRecipeRunsAndItsDryRunNamesTheConfig() throws IOException {
        Result dry = merge(TA, "out", "--dry-run");
        assertEquals(0, dry.code(), dry.toString());
        assertEquals(List.of(), dry.errLines());
        assertTrue(dry.out().contains("config   " + family.resolve("base/config.json").toAbsolutePath()), dry.out());
        assertFalse(Files.exists(dir.resolve("out")), "a dry run writes nothing");
    }

    @Test
    void malformedConfigJsonFailsTheDryRunAsTheRun() throws IOException {
        Files.writeString(family.resolve("base/config.json"), "{\"hidden_size\": 64,");
        String m = bothFail(TA);
        assertTrue(m.contains("base/config.json: is not valid JSON"), m);
        Files.writeString(family.resolve("base/config.json"), "[1, 2]");
        m = bothFail(TA);
        assertTrue(m.contains("base/config.json: is not a JSON object"), m);
    }

    @Test
    void negativeTokenIdFailsTheDryRunWhenTheVocabulariesAreMerged() throws IOException {
        Path tok = family.resolve("ft1/tokenizer.json");
        ObjectNode t = (ObjectNode) Json.read(tok);
        ObjectNode vocab = (ObjectNode) t.get("model").get("vocab");
        String token = vocab.properties().iterator().next().getKey();
        vocab.put(token, -3);
        Json.writePretty(tok, t);
        String m = bothFail(TA + "tokenizer_source: union\n");
        assertTrue(m.contains("ft1/tokenizer.json: model.vocab['" + token + "'] is -3, not a token id"), m);
        // merged by position the run never reads the vocabulary, and neither does the dry run
        assertEquals(0, merge(TA, "out", "--dry-run").code());
    }

    @Test
    void addedTokensThatAreNotAListFailTheDryRun() throws IOException {
        Path tok = family.resolve("base/tokenizer.json");
        ObjectNode t = (ObjectNode) Json.read(tok);
        t.putObject("added_tokens").putObject("x").put("id", 3).put("content", "<x>");
        Json.writePretty(tok, t);
        String m = bothFail(TA + "tokenizer_source: union\n");
        assertTrue(m.contains("base/tokenizer.json: added_tokens is not a list"), m);
    }

    @Test
    void nonEmptyOutputFailsTheDryRunUnlessForced() throws IOException {
        Path out = Files.createDirectories(dir.resolve("out"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        Result dry = merge(TA, "out", "--dry-run");
        Result run = merge(TA, "out");
        assertEquals(2, dry.code());
        assertEquals(2, run.code());
        assertEquals(List.of("mergestream: " + out + ": exists, is not empty and is not a mergestream output (it has no"
                + " .mergestream-output.json); mergestream writes into a new or empty directory, and --force replaces"
                + " only an output mergestream wrote"), dry.errLines());
        assertEquals(dry.errLines(), run.errLines());
        // a foreign directory stays refused with --force too, in the dry run as in the run
        assertEquals(dry.errLines(), merge(TA, "out", "--dry-run", "--force").errLines());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")), "a dry run touches nothing");
        // an earlier output: refused without --force, accepted with it, by the dry run as by the run
        assertEquals(0, merge(TA, "earlier").code());
        Result again = merge(TA, "earlier", "--dry-run");
        assertEquals(2, again.code());
        assertEquals(again.errLines(), merge(TA, "earlier").errLines());
        assertEquals(0, merge(TA, "earlier", "--dry-run", "--force").code());
        Files.writeString(dir.resolve("afile"), "x");
        Result underAFile = merge(TA, "afile/out", "--dry-run");
        assertEquals(2, underAFile.code());
        assertEquals(List.of("mergestream: " + dir.resolve("afile/out") + ": cannot be created: " + dir.resolve("afile")
                + " is not a directory"), underAFile.errLines());
        assertEquals(underAFile.errLines(), merge(TA, "afile/out").errLines());
        Result inside = merge(TA, "fam/base/sub", "--dry-run");
        assertEquals(2, inside.code());
        assertTrue(inside.errLines().get(0).contains("which this run reads; write the output somewhere else"), inside.toString());
        assertEquals(inside.errLines(), merge(TA, "fam/base/sub").errLines());
    }

    @Test
    void theSameModelUnderAnotherSpellingIsRefused() throws IOException {
        String m = bothFail(TA.replace("{model: fam/ft2,", "{model: ./fam/ft1/,"));
        assertTrue(m.contains("r.yml: models[1]: './fam/ft1/' is the same model as models[0] 'fam/ft1'"), m);
        assertTrue(m.contains("merged twice"), m);
        Files.createSymbolicLink(dir.resolve("link"), family.resolve("ft1"));
        m = bothFail(TA.replace("{model: fam/ft2,", "{model: link,"));
        assertTrue(m.contains("models[1]: 'link' is the same model as models[0] 'fam/ft1' (both are "
                + family.resolve("ft1").toRealPath() + ")"), m);
    }

    @Test
    void theBaseUnderAnotherSpellingIsRefused() throws IOException {
        String m = bothFail(TA.replace("{model: fam/ft2,", "{model: fam/base/,"));
        assertTrue(m.contains("models[1]: 'fam/base/' is base_model 'fam/base' written another way"), m);
        // linear merges only what is listed: a base_model it ignores is no conflict
        String linear = "merge_method: linear\nbase_model: fam/base\nmodels:\n  - {model: ./fam/base, parameters: {weight: 1}}\n"
                + "  - {model: fam/ft1, parameters: {weight: 1}}\n";
        assertEquals(0, merge(linear, "out", "--dry-run").code());
    }

    @Test
    void theSameModelTwiceInASliceIsRefused() throws IOException {
        String sliced = """
                merge_method: linear
                slices:
                  - sources:
                      - {model: fam/ft1, layer_range: [0, 2], parameters: {weight: 1}}
                      - {model: fam//ft1, layer_range: [0, 2], parameters: {weight: 1}}
                """;
        String m = bothFail(sliced);
        assertTrue(m.contains("slices[0].sources[1]: 'fam//ft1' is the same model as slices[0].sources[0] 'fam/ft1'"), m);
    }

    @Test
    void anExcludeRegexThatMatchesNoTensorIsAWarningNamingIt() throws IOException {
        Result dry = merge(TA + "exclude: ['lm_head\\.', 'clasifier\\.']\n", "out", "--dry-run");
        assertEquals(0, dry.code());
        assertEquals(List.of("mergestream: warning: " + dir.resolve("r.yml") + ": exclude[1]: 'clasifier\\.' matches no"
                + " tensor (regexes match the start of tensor names): nothing is excluded by it"), dry.errLines());
        Result run = merge(TA + "exclude: ['lm_head\\.', 'clasifier\\.']\n", "out");
        assertEquals(0, run.code());
        assertEquals(dry.errLines(), run.errLines().stream().filter(l -> l.contains("warning")).toList());
    }

    @Test
    void dareExcludeThatMatchesNoTensorIsAWarning() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            code = Main.run("dare", "--base", family.resolve("base").toString(), "--model", family.resolve("ft1").toString(),
                    "--drop-rate", "0.5", "--exclude", "lm_haed\\.", "-o", dir.resolve("dared").toString(), "-q");
        } finally {
            System.setErr(old);
        }
        assertEquals(0, code);
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("mergestream: warning: --exclude 'lm_haed\\.' matches no tensor of "), e);
    }

    @Test
    void aMissingConfigJsonIsAWarningAndTheOutputHasNone() throws IOException {
        Files.delete(family.resolve("base/config.json"));
        Result dry = merge(TA, "out", "--dry-run");
        assertEquals(0, dry.code());
        String warning = "mergestream: warning: " + family.resolve("base").toAbsolutePath()
                + ": has no config.json, so the output will have none (transformers needs one to load the model:"
                + " copy it in afterwards)";
        assertEquals(List.of(warning), dry.errLines());
        assertTrue(dry.out().contains("config   none (" + family.resolve("base").toAbsolutePath()
                + " has no config.json, so neither will the output)"), dry.out());
        Result run = merge(TA, "out");
        assertEquals(0, run.code());
        assertTrue(run.errLines().contains(warning), run.toString());
        assertTrue(Files.isRegularFile(dir.resolve("out/model.safetensors")));
        assertFalse(Files.exists(dir.resolve("out/config.json")));
    }
}
