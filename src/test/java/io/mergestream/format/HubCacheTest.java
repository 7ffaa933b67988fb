package io.mergestream.format;

import io.mergestream.format.checkpoint.Checkpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import io.mergestream.TestModels;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hugging Face cache read as huggingface_hub lays it out, against a cache built by hand
 * ({@link HubCacheFixture}): refs naming commits, a tag, {@code refs/pr/1}, a 40-hex revision, an id without an
 * organisation, snapshots of blob symlinks, a snapshot missing a shard and one whose blob is gone.
 */
class HubCacheTest {

    static final String MAIN = "0123456789abcdef0123456789abcdef01234567";
    static final String TAGGED = "1111111111111111111111111111111111111111";
    static final String PR = "2222222222222222222222222222222222222222";
    static final String PINNED = "3333333333333333333333333333333333333333";

    @TempDir
    Path tmp;

    Path root;
    HubCache cache;
    Path model;

    @BeforeEach
    void buildCache() throws IOException {
        root = tmp.resolve("hub");
        cache = new HubCache(root);
        model = TestModels.write(tmp.resolve("src-sharded"), DType.BF16, new TestModels.Model()
                .put("a.weight", new long[] {8, 8}, new float[64])
                .put("b.weight", new long[] {8, 8}, new float[64])
                .put("c.weight", new long[] {8, 8}, new float[64]), 200);
        assertTrue(Files.isRegularFile(model.resolve(CheckpointFiles.INDEX_FILE)), "the fixture is sharded");
        for (String commit : List.of(MAIN, TAGGED, PR, PINNED)) HubCacheFixture.snapshot(root, "org/name", commit, model);
        HubCacheFixture.ref(root, "org/name", "main", MAIN);
        HubCacheFixture.ref(root, "org/name", "v1.0", TAGGED);
        HubCacheFixture.ref(root, "org/name", "refs/pr/1", PR);
        HubCacheFixture.snapshot(root, "gpt2", MAIN, model);
        HubCacheFixture.ref(root, "gpt2", "main", MAIN);
    }

    private Path snap(String repo, String commit) {
        return HubCacheFixture.repo(root, repo).resolve("snapshots").resolve(commit);
    }

    private HubCache.Id id(String reference) {
        return HubCache.Id.parse(reference).orElseThrow(() -> new AssertionError(reference + " should parse"));
    }

    @Test
    void cacheDirectoryFollowsHuggingfaceHubPrecedence() {
        Path home = Path.of("/home/u");
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), HubCache.fromEnvironment(Map.of(), home).root());
        assertEquals(Path.of("/x/huggingface/hub"), HubCache.fromEnvironment(Map.of("XDG_CACHE_HOME", "/x"), home).root());
        assertEquals(Path.of("/h/hub"), HubCache.fromEnvironment(Map.of("XDG_CACHE_HOME", "/x", "HF_HOME", "/h"), home).root());
        assertEquals(Path.of("/legacy"), HubCache.fromEnvironment(
                Map.of("XDG_CACHE_HOME", "/x", "HF_HOME", "/h", "HUGGINGFACE_HUB_CACHE", "/legacy"), home).root());
        assertEquals(Path.of("/new"), HubCache.fromEnvironment(Map.of("XDG_CACHE_HOME", "/x", "HF_HOME", "/h",
                "HUGGINGFACE_HUB_CACHE", "/legacy", "HF_HUB_CACHE", "/new"), home).root());
        // expanduser and expandvars, as constants.py applies them; an undefined variable stays as written
        assertEquals(Path.of("/home/u/models/hub"), HubCache.fromEnvironment(Map.of("HF_HOME", "~/models"), home).root());
        assertEquals(Path.of("/data/cache/x"), HubCache.fromEnvironment(
                Map.of("HF_HUB_CACHE", "$D/cache/${SUB}", "D", "/data", "SUB", "x"), home).root());
        assertEquals(Path.of("/a/$NOPE/hub"), HubCache.fromEnvironment(Map.of("HF_HOME", "/a/$NOPE"), home).root());
        assertEquals(Path.of("/h/hub"), HubCache.fromEnvironment(Map.of("HF_HUB_CACHE", "", "HF_HOME", "/h"), home).root(),
                "an empty variable counts as unset");
    }

    @Test
    void referencesParseAsMergekitWritesThem() {
        HubCache.Id m = id("mistralai/Mistral-7B-v0.1");
        assertEquals(Optional.of("mistralai"), m.org());
        assertEquals("Mistral-7B-v0.1", m.name());
        assertEquals("models--mistralai--Mistral-7B-v0.1", m.folderName());
        assertEquals("main", m.revisionOrDefault());
        assertEquals("hf download mistralai/Mistral-7B-v0.1", m.downloadCommand());
        HubCache.Id pr = id("org/name@refs/pr/1");
        assertEquals("org/name", pr.repoId());
        assertEquals(Optional.of("refs/pr/1"), pr.revision());
        assertEquals("hf download org/name --revision refs/pr/1", pr.downloadCommand());
        assertEquals("models--gpt2", id("gpt2").folderName());
        assertEquals(Optional.empty(), id("gpt2").org());
        for (String bad : List.of("a/b/c", "../x", "./x", "/abs/x", "a--b/c", "-a/b", "a/b.", "a/b@", "a/b@x@y",
                "a/b@../../etc", "a/b@/x", "a/b@x y", "")) {
            assertTrue(HubCache.Id.parse(bad).isEmpty(), bad);
        }
    }

    @Test
    void refsNameTheCommitAndAHashIsTheCommitItself() {
        assertEquals(snap("org/name", MAIN), cache.snapshot(id("org/name")));
        assertEquals(snap("org/name", MAIN), cache.snapshot(id("org/name@main")));
        assertEquals(snap("org/name", TAGGED), cache.snapshot(id("org/name@v1.0")));
        assertEquals(snap("org/name", PR), cache.snapshot(id("org/name@refs/pr/1")));
        assertEquals(snap("org/name", PINNED), cache.snapshot(id("org/name@" + PINNED)), "no ref: the commit itself");
        assertEquals(snap("gpt2", MAIN), cache.snapshot(id("gpt2")), "an id without an organisation");
        // the snapshot files are links into blobs/, and a checkpoint opens through them
        Path shard = cache.snapshot(id("org/name")).resolve(CheckpointFiles.INDEX_FILE);
        assertTrue(Files.isSymbolicLink(shard));
        try (Checkpoint c = Checkpoint.open(cache.snapshot(id("org/name@refs/pr/1")))) {
            assertEquals(3, c.tensorCount());
        }
    }

    @Test
    void whatIsMissingIsNamedWithTheDownloadCommand() throws IOException {
        MergestreamException e = assertThrows(MergestreamException.class, () -> cache.snapshot(id("other/model")));
        assertTrue(e.getMessage().contains("models--other--model") && e.getMessage().contains("`hf download other/model`"),
                e.getMessage());
        e = assertThrows(MergestreamException.class, () -> cache.snapshot(id("org/name@dev")));
        assertTrue(e.getMessage().contains("no revision 'dev'") && e.getMessage().contains("main, refs/pr/1, v1.0")
                && e.getMessage().endsWith("`hf download org/name --revision dev`"), e.getMessage());
        String unknown = "4444444444444444444444444444444444444444";
        e = assertThrows(MergestreamException.class, () -> cache.snapshot(id("org/name@" + unknown)));
        assertTrue(e.getMessage().contains(unknown) && e.getMessage().endsWith("--revision " + unknown + "`"), e.getMessage());
        HubCacheFixture.ref(root, "org/name", "stale", "5555555555555555555555555555555555555555");
        e = assertThrows(MergestreamException.class, () -> cache.snapshot(id("org/name@stale")));
        assertTrue(e.getMessage().startsWith("refs/stale names commit 5555"), e.getMessage());
        HubCacheFixture.ref(root, "org/name", "broken", "not a hash");
        e = assertThrows(MergestreamException.class, () -> cache.snapshot(id("org/name@broken")));
        assertTrue(e.getMessage().contains("does not hold a commit hash"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    @Test
    void aSnapshotMissingAShardOrABlobIsAnErrorNamingTheShard() throws IOException {
        Path main = cache.snapshot(id("org/name"));
        HubCache.checkWeights(id("org/name"), main); // complete
        List<String> shards;
        try (var s = Files.list(main)) {
            shards = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        }
        assertTrue(shards.size() >= 2, shards.toString());
        // an interrupted download: the link to the second shard was never made
        Files.delete(main.resolve(shards.get(1)));
        MergestreamException e = assertThrows(MergestreamException.class, () -> HubCache.checkWeights(id("org/name"), main));
        assertTrue(e.getMessage().contains("lacks shard " + shards.get(1)) && e.getMessage().endsWith("`hf download org/name`"),
                e.getMessage());
        // a link whose blob is gone (the blob was removed by hand or a cache cleaner)
        Path pinned = cache.snapshot(id("org/name@" + PINNED));
        Path blob = pinned.resolve(shards.get(0)).toRealPath();
        Files.delete(blob);
        e = assertThrows(MergestreamException.class, () -> HubCache.checkWeights(id("org/name@" + PINNED), pinned));
        assertTrue(e.getMessage().contains("lacks shard " + shards.get(0)), e.getMessage());
        // no weights at all: only config.json was downloaded
        Path only = HubCacheFixture.snapshot(root, "org/partial", MAIN, Files.writeString(
                Files.createDirectories(tmp.resolve("cfg")).resolve("config.json"), "{}").getParent());
        HubCacheFixture.ref(root, "org/partial", "main", MAIN);
        e = assertThrows(MergestreamException.class, () -> HubCache.checkWeights(id("org/partial"), only));
        assertTrue(e.getMessage().contains("holds no weights") && e.getMessage().endsWith("`hf download org/partial`"),
                e.getMessage());
    }

    @Test
    void aLocalDirectoryOfTheSameNameWinsAndTheRecipeDirectoryIsTriedSecond() throws IOException {
        Path cwd = Files.createDirectories(tmp.resolve("cwd"));
        Path recipes = Files.createDirectories(tmp.resolve("recipes"));
        List<Path> anchors = List.of(cwd, recipes);
        ModelLocator.Location hub = ModelLocator.find("org/name@v1.0", anchors, cache);
        assertInstanceOf(ModelLocator.Cached.class, hub);
        assertEquals(snap("org/name", TAGGED), hub.path());
        Files.createDirectories(recipes.resolve("org/name"));
        assertEquals(new ModelLocator.Local(recipes.resolve("org/name")), ModelLocator.find("org/name", anchors, cache));
        Files.createDirectories(cwd.resolve("org/name"));
        assertEquals(new ModelLocator.Local(cwd.resolve("org/name")), ModelLocator.find("org/name", anchors, cache));
        // a path that cannot be a hub id is never looked up in the cache
        ModelLocator.Location dot = ModelLocator.find("./gpt2", anchors, cache);
        assertInstanceOf(ModelLocator.Missing.class, dot);
        assertFalse(((ModelLocator.Missing) dot).reason().contains("hf download"), dot.toString());
        assertInstanceOf(ModelLocator.Cached.class, ModelLocator.find("gpt2", anchors, cache));
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> ModelLocator.locate("nobody/nothing", anchors, cache, "r.yml: model 'nobody/nothing'"));
        assertTrue(e.getMessage().startsWith("r.yml: model 'nobody/nothing': not found: no such local directory (looked for "
                + cwd.resolve("nobody/nothing") + " and " + recipes.resolve("nobody/nothing") + ")"), e.getMessage());
        assertTrue(e.getMessage().endsWith("download it first with `hf download nobody/nothing`"), e.getMessage());
    }

    @Test
    void snapshotPathsTellTheirRepoId() {
        assertEquals(Optional.of("org/name"), HubCache.repoIdOf(snap("org/name", MAIN)));
        assertEquals(Optional.of("gpt2"), HubCache.repoIdOf(snap("gpt2", MAIN)));
        assertEquals(Optional.empty(), HubCache.repoIdOf(tmp.resolve("org/name")));
        assertEquals(Optional.empty(), HubCache.repoIdOf(root.resolve("models--a--b--c/snapshots/x")));
        assertEquals(Optional.empty(), HubCache.repoIdOf(root.resolve("datasets--a--b/snapshots/x")));
    }
}
