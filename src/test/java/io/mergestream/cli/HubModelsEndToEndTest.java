package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.engine.ModelCard;
import io.mergestream.format.ChatTemplates;
import io.mergestream.format.HubCache;
import io.mergestream.format.HubCacheFixture;
import io.mergestream.format.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * Whole runs over models named by Hugging Face id, from a cache built by hand out of the bundled tiny Llama
 * family: merges equal the same merges of the local directories bit for bit (so the right snapshot of the right
 * revision was read), every command resolves ids the same way, the model card's front matter is what the Hub
 * reads (checked with SnakeYAML, a parser of its own), and the chat template survives the merge.
 */
class HubModelsEndToEndTest {

    static final Path FAMILY = Path.of("testdata", "tiny-llama");
    static final String C_BASE = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static final String C_FT1 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    static final String C_FT3 = "cccccccccccccccccccccccccccccccccccccccc";
    static final String C_FT2 = "dddddddddddddddddddddddddddddddddddddddd";
    static final String CHAT = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";

    @TempDir
    Path tmp;

    Path root;
    Path instructBase;
    HubCache previous;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @BeforeEach
    void buildCache() throws IOException {
        root = tmp.resolve("hf-home/hub");
        previous = HubCache.setCurrent(new HubCache(root));
        // the base as an instruct model: a chat template and a card with a licence
        instructBase = copy(FAMILY.resolve("base"), tmp.resolve("instruct-base"));
        Files.writeString(instructBase.resolve(ChatTemplates.JINJA_FILE), CHAT);
        Files.writeString(instructBase.resolve("README.md"), "---\nlicense: apache-2.0\nlanguage: [en]\n---\n# base\n");
        HubCacheFixture.snapshot(root, "org/tiny-base", C_BASE, instructBase);
        HubCacheFixture.ref(root, "org/tiny-base", "main", C_BASE);
        // org/tiny-ft: main is ft3, tag v1 is ft1, so a wrong revision gives a different merge
        HubCacheFixture.snapshot(root, "org/tiny-ft", C_FT3, FAMILY.resolve("ft3"));
        HubCacheFixture.snapshot(root, "org/tiny-ft", C_FT1, FAMILY.resolve("ft1"));
        HubCacheFixture.ref(root, "org/tiny-ft", "main", C_FT3);
        HubCacheFixture.ref(root, "org/tiny-ft", "v1", C_FT1);
        // an id without an organisation, reached through a pull request's ref
        HubCacheFixture.snapshot(root, "tiny-ft2", C_FT2, FAMILY.resolve("ft2"));
        HubCacheFixture.ref(root, "tiny-ft2", "refs/pr/1", C_FT2);
    }

    @AfterEach
    void restoreCache() {
        HubCache.setCurrent(previous);
    }

    static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(from)) {
            for (Path f : s.toList()) Files.copy(f, to.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return to;
    }

    static final String RECIPE = """
            merge_method: dare_ties
            base_model: BASE
            models:
              - model: FT1
                parameters: {weight: 0.6, density: 0.5}
              - model: FT2
                parameters: {weight: 0.4, density: 0.5}
            seed: 3
            """;

    private Path recipe(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name + ".yml"), text);
    }

    private Path merge(Path recipe, String out) {
        Path o = tmp.resolve(out);
        CliRun r = run("merge", recipe.toString(), "-o", o.toString(), "-q", "--force");
        assertEquals(0, r.code(), r.err());
        return o;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> frontMatter(Path card) throws IOException {
        String text = Files.readString(card);
        assertTrue(text.startsWith("---\n"), text);
        int end = text.indexOf("\n---\n", 4);
        assertTrue(end > 0, text);
        return (Map<String, Object>) new Yaml().load(text.substring(4, end));
    }

    @Test
    void aRecipeOfHubIdsMergesTheCachedSnapshotsBitForBit() throws IOException {
        Path hub = merge(recipe("hub", RECIPE.replace("BASE", "org/tiny-base").replace("FT1", "org/tiny-ft@v1")
                .replace("FT2", "tiny-ft2@refs/pr/1")), "merged-hub");
        Path local = merge(recipe("local", RECIPE.replace("BASE", instructBase.toAbsolutePath().toString())
                .replace("FT1", FAMILY.resolve("ft1").toAbsolutePath().toString())
                .replace("FT2", FAMILY.resolve("ft2").toAbsolutePath().toString())), "merged-local");
        assertEquals(-1, Files.mismatch(hub.resolve("model.safetensors"), local.resolve("model.safetensors")),
                "the hub merge read base main, org/tiny-ft@v1 (ft1, not main's ft3) and tiny-ft2's refs/pr/1");
        Path wrong = merge(recipe("main", RECIPE.replace("BASE", "org/tiny-base").replace("FT1", "org/tiny-ft")
                .replace("FT2", "tiny-ft2@" + C_FT2)), "merged-main");
        assertTrue(Files.mismatch(wrong.resolve("model.safetensors"), local.resolve("model.safetensors")) >= 0,
                "org/tiny-ft without a revision is main (ft3)");

        // the card: base_model lists the hub ids (without revisions), the licence is the base's
        Map<String, Object> meta = frontMatter(hub.resolve("README.md"));
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("base_model", List.of("org/tiny-base", "org/tiny-ft", "tiny-ft2"));
        expected.put("library_name", "transformers");
        expected.put("license", "apache-2.0");
        expected.put("tags", List.of("merge", "mergekit", "mergestream"));
        assertEquals(expected, meta);
        String card = Files.readString(hub.resolve("README.md"));
        assertTrue(card.contains("\n# merged-hub\n"), "titled by the output directory: " + card);
        assertTrue(card.contains("[org/tiny-ft](https://huggingface.co/org/tiny-ft) as `org/tiny-ft@v1` (commit " + C_FT1 + ")"),
                card);
        assertEquals(Files.readString(tmp.resolve("hub.yml")), Files.readString(hub.resolve(ModelCard.RECIPE_FILE)));
        assertEquals("mergekit_config.yml", ModelCard.RECIPE_FILE);
        assertFalse(Files.exists(hub.resolve("mergestream_config.yml")));

        // local directories are named in the text, never in the metadata
        Map<String, Object> localMeta = frontMatter(local.resolve("README.md"));
        assertFalse(localMeta.containsKey("base_model"), localMeta.toString());
        assertEquals("apache-2.0", localMeta.get("license"));
        assertTrue(Files.readString(local.resolve("README.md")).contains("`" + FAMILY.resolve("ft1").toAbsolutePath()
                + "` (local directory)"));

        // an instruct base keeps its chat template through the merge, byte for byte
        assertEquals(CHAT, Files.readString(hub.resolve(ChatTemplates.JINJA_FILE)));
    }

    @Test
    void valuesTakenFromTheBasesCardCannotAddKeys() throws IOException {
        Path base = copy(FAMILY.resolve("base"), tmp.resolve("odd-base"));
        // a licence whose text, pasted into YAML by hand, would end the value and add keys
        Files.writeString(base.resolve("README.md"), """
                ---
                license: other
                license_name: "evil\\nbase_model: [attacker/model]\\ntags: [pwned]"
                license_link: "https://example.com/licence#: - [x]"
                base_model: [someone/else]
                ---
                text
                """);
        String yml = RECIPE.replace("BASE", base.toAbsolutePath().toString())
                .replace("FT1", "org/tiny-ft@v1").replace("FT2", "tiny-ft2@refs/pr/1");
        Path out = merge(recipe("odd", yml), "odd-out");
        Map<String, Object> meta = frontMatter(out.resolve("README.md"));
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("base_model", List.of("org/tiny-ft", "tiny-ft2"));
        expected.put("library_name", "transformers");
        expected.put("license", "other");
        expected.put("license_name", "evil\nbase_model: [attacker/model]\ntags: [pwned]");
        expected.put("license_link", "https://example.com/licence#: - [x]");
        expected.put("tags", List.of("merge", "mergekit", "mergestream"));
        assertEquals(expected, meta, Files.readString(out.resolve("README.md")));
        // a card whose front matter does not parse: a warning, no licence, the merge goes on
        Files.writeString(base.resolve("README.md"), "---\nlicense: [unclosed\n---\n");
        List<String> warnings = new java.util.ArrayList<>();
        io.mergestream.Warnings.Listener w = io.mergestream.Warnings.set(warnings::add);
        try {
            out = merge(recipe("odd", yml), "odd-out");
        } finally {
            io.mergestream.Warnings.set(w);
        }
        assertFalse(frontMatter(out.resolve("README.md")).containsKey("license"));
        assertTrue(warnings.stream().anyMatch(m -> m.startsWith(base.resolve("README.md") + ": the base's model card has no"
                + " readable YAML front matter")), warnings.toString());
    }

    @Test
    void theRecipesChatTemplateIsWrittenWhereTransformersReadsIt() throws IOException {
        Path out = merge(recipe("chatml", RECIPE.replace("BASE", "org/tiny-base").replace("FT1", "org/tiny-ft@v1")
                .replace("FT2", "tiny-ft2@refs/pr/1") + "chat_template: chatml\n"), "with-chatml");
        String t = Files.readString(out.resolve(ChatTemplates.JINJA_FILE));
        assertEquals(ChatTemplates.builtIn("chatml"), t);
        assertTrue(t.contains("<|im_start|>") && !t.equals(CHAT), t);
        assertEquals(t, Json.read(out.resolve("tokenizer_config.json")).get("chat_template").asText());
        String literal = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}";
        out = merge(recipe("literal", RECIPE.replace("BASE", "org/tiny-base").replace("FT1", "org/tiny-ft@v1")
                .replace("FT2", "tiny-ft2@refs/pr/1") + "chat_template: \"" + literal + "\"\n"), "with-literal");
        assertEquals(literal, Files.readString(out.resolve(ChatTemplates.JINJA_FILE)));
        assertEquals(literal, Json.read(out.resolve("tokenizer_config.json")).get("chat_template").asText());
        out = merge(recipe("auto", RECIPE.replace("BASE", "org/tiny-base").replace("FT1", "org/tiny-ft@v1")
                .replace("FT2", "tiny-ft2@refs/pr/1") + "chat_template: auto\n"), "with-auto");
        assertEquals(CHAT, Files.readString(out.resolve(ChatTemplates.JINJA_FILE)), "the only template among the inputs");
    }

    @Test
    void everyCommandResolvesHubIdsTheSameWay() throws IOException {
        CliRun inspect = run("inspect", "org/tiny-ft@v1");
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains(HubCacheFixture.repo(root, "org/tiny-ft").resolve("snapshots/" + C_FT1).toString()),
                inspect.out());
        CliRun diff = run("diff", "org/tiny-ft@v1", FAMILY.resolve("ft1").toString(), "-q");
        assertEquals(0, diff.code(), diff.out() + diff.err());
        assertTrue(diff.out().strip().lines().reduce((a, b) -> b).orElseThrow().startsWith("MATCH: 21 tensors"), diff.out());
        assertEquals(1, run("diff", "org/tiny-ft", FAMILY.resolve("ft1").toString(), "-q").code(), "main is ft3");
        CliRun stats = run("delta-stats", "--base", "org/tiny-base", "--model", "tiny-ft2@refs/pr/1", "-q", "--json");
        assertEquals(0, stats.code(), stats.err());
        Path out = tmp.resolve("ft1-dare");
        CliRun dare = run("dare", "--base", "org/tiny-base", "--model", "org/tiny-ft@v1", "--density", "0.5", "-o",
                out.toString(), "-q");
        assertEquals(0, dare.code(), dare.err());
        Map<String, Object> meta = frontMatter(out.resolve("README.md"));
        assertEquals(List.of("org/tiny-base", "org/tiny-ft"), meta.get("base_model"));
        assertEquals("apache-2.0", meta.get("license"));
    }

    @Test
    void missingModelsAreOneLineNamingTheDownloadCommand() throws IOException {
        CliRun r = run("inspect", "nobody/nothing@v2");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("mergestream: MODEL nobody/nothing@v2: not found") && r.err().strip().endsWith(
                "download it first with `hf download nobody/nothing --revision v2`"), r.err());
        r = run("delta-stats", "--base", "org/tiny-base@v9", "--model", "tiny-ft2@refs/pr/1");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertTrue(r.err().contains("--base org/tiny-base@v9: the Hugging Face cache has no revision 'v9'")
                && r.err().contains("`hf download org/tiny-base --revision v9`"), r.err());

        // a snapshot whose download stopped before model.safetensors: the merge says so before writing anything
        Path snapshot = HubCacheFixture.repo(root, "org/tiny-base").resolve("snapshots/" + C_BASE);
        Files.delete(snapshot.resolve("model.safetensors"));
        Path out = tmp.resolve("never");
        r = run("merge", recipe("partial", RECIPE.replace("BASE", "org/tiny-base").replace("FT1", "org/tiny-ft@v1")
                .replace("FT2", "tiny-ft2@refs/pr/1")).toString(), "-o", out.toString(), "-q");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("model 'org/tiny-base': the Hugging Face cache snapshot " + snapshot + " holds no weights")
                && r.err().strip().endsWith("`hf download org/tiny-base`"), r.err());
        assertFalse(Files.exists(out));
    }
}
