package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static io.mergestream.TestFiles.deadPid;
import static io.mergestream.TestFiles.listing;
import static io.mergestream.TestFiles.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputDirectoryTest {

    static final String MANIFEST = OutputDirectory.MANIFEST;

    @TempDir
    Path tmp;

    final List<String> warnings = new ArrayList<>();
    private Warnings.Listener previousListener;

    @BeforeEach
    void captureWarnings() {
        previousListener = Warnings.set(m -> {
            synchronized (warnings) {
                warnings.add(m);
            }
        });
    }

    @AfterEach
    void restoreWarnings() {
        Warnings.set(previousListener);
    }

    /** Writes an output through OutputDirectory with the given files (path -> content) and commits it. */
    static void writeOutput(Path target, boolean force, Map<String, String> files) throws IOException {
        try (OutputDirectory out = OutputDirectory.prepare(target, force, List.of())) {
            for (Map.Entry<String, String> f : files.entrySet()) {
                Path p = out.staging().resolve(f.getKey());
                Files.createDirectories(p.getParent());
                Files.writeString(p, f.getValue());
            }
            out.commit();
        }
    }

    // ---- the atomic output, as before -----------------------------------------------------------------------

    @Test
    void stagesInAHiddenSiblingThenCommitMovesIntoPlace() throws IOException {
        Path target = tmp.resolve("out");
        try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
            Path staging = out.staging();
            assertEquals(tmp, staging.getParent());
            assertTrue(staging.getFileName().toString().startsWith(".out.partial-"), staging.toString());
            assertTrue(Files.exists(tmp.resolve(".out.lock")), "the output is locked while it is written");
            Files.writeString(staging.resolve("model.safetensors"), "x");
            assertFalse(Files.exists(target), "nothing at the target before commit");
            out.commit();
        }
        assertEquals(List.of("out"), listing(tmp), "no staging, no lock file left");
        assertEquals("x", Files.readString(target.resolve("model.safetensors")));
        assertEquals(List.of(MANIFEST, "model.safetensors"), listing(target));
    }

    @Test
    void theManifestListsEveryFileWithItsSize() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("model.safetensors", "12345", "sub/a.json", "{}", "README.md", ""));
        JsonNode m = Json.read(target.resolve(MANIFEST));
        assertEquals("mergestream", m.get("written_by").asText());
        assertTrue(m.get("complete").asBoolean());
        List<String> listed = new ArrayList<>();
        for (JsonNode f : m.get("files")) listed.add(f.get("path").asText() + "=" + f.get("size").asLong());
        assertEquals(List.of("README.md=0", "model.safetensors=5", "sub/a.json=2"), listed);
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws IOException {
        Path target = tmp.resolve("out");
        try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
            Files.writeString(out.staging().resolve("model.safetensors"), "half");
            Files.createDirectory(out.staging().resolve("sub"));
            Files.writeString(out.staging().resolve("sub/f"), "y");
        }
        assertEquals(List.of(), listing(tmp));
    }

    @Test
    void failureWhileWritingLeavesNothing() throws IOException {
        Path target = tmp.resolve("out");
        assertThrows(IllegalStateException.class, () -> {
            try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
                Files.writeString(out.staging().resolve("a"), "a");
                throw new IllegalStateException("merge failed");
            }
        });
        assertFalse(Files.exists(target));
        assertEquals(List.of(), listing(tmp));
    }

    @Test
    void acceptsAnEmptyExistingTargetWithoutForce() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("out"));
        writeOutput(target, false, Map.of("new.txt", "new"));
        assertEquals(List.of(MANIFEST, "new.txt"), listing(target));
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void refusesATargetThatIsAFile() throws IOException {
        Path target = Files.writeString(tmp.resolve("out"), "file");
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, true, List.of()));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
        assertEquals("file", Files.readString(target));
    }

    // ---- --force replaces only what mergestream wrote -------------------------------------------------------

    @Test
    void aForeignNonEmptyDirectoryIsRefusedEvenWithForceAndLeftByteIdentical() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("out"));
        // what a model downloaded from the Hub (or a mergekit output) carries: neither is taken for a marker
        Files.writeString(target.resolve("mergekit_config.yml"), "merge_method: linear\n");
        Files.writeString(target.resolve("README.md"), "# my model\n");
        Files.writeString(target.resolve("model.safetensors"), "weights");
        Map<String, String> before = snapshot(target);
        for (boolean force : new boolean[] {false, true}) {
            MergestreamException e = assertThrows(MergestreamException.class,
                    () -> OutputDirectory.prepare(target, force, List.of()));
            String m = e.getMessage();
            assertFalse(m.contains("\n"), m);
            assertTrue(m.startsWith(target + ": ") && m.contains("not a mergestream output") && m.contains(MANIFEST), m);
            assertFalse(m.contains("use --force"), "no blind advice to use --force: " + m);
        }
        assertEquals(before, snapshot(target));
        assertEquals(List.of("out"), listing(tmp), "no staging directory, no lock file left behind");
    }

    @Test
    void anEarlierOutputNeedsForceAndTheMessageSaysWhatForceDoes() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("model.safetensors", "old"));
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, false, List.of()));
        assertTrue(e.getMessage().contains("earlier mergestream output") && e.getMessage().contains("--force replaces the 1 files"),
                e.getMessage());
        assertEquals("old", Files.readString(target.resolve("model.safetensors")));
    }

    @Test
    void forceReplacesAnEarlierOutputWholeWhenItHoldsOnlyItsOwnFiles() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("model-00001-of-00002.safetensors", "a", "model-00002-of-00002.safetensors", "b",
                "model.safetensors.index.json", "{}", "config.json", "{1}"));
        try (OutputDirectory out = OutputDirectory.prepare(target, true, List.of())) {
            Files.writeString(out.staging().resolve("model.safetensors"), "new");
            Files.writeString(out.staging().resolve("config.json"), "{2}");
            assertEquals("a", Files.readString(target.resolve("model-00001-of-00002.safetensors")), "old output intact until commit");
            out.commit();
        }
        assertEquals(List.of(MANIFEST, "config.json", "model.safetensors"), listing(target), "the old shards are gone");
        assertEquals("{2}", Files.readString(target.resolve("config.json")));
        assertEquals(List.of("out"), listing(tmp), "no .old, .partial or .lock sibling left");
        assertEquals(List.of(), warnings);
    }

    @Test
    void forceKeepsFilesMergestreamDidNotWriteAndSaysSo() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("model-00001-of-00002.safetensors", "a", "model-00002-of-00002.safetensors", "b",
                "README.md", "card", "sub/x.json", "x"));
        Files.writeString(target.resolve("notes.txt"), "mine");
        Files.createDirectories(target.resolve("eval"));
        Files.writeString(target.resolve("eval/results.json"), "0.7");
        Files.writeString(target.resolve("sub/mine.txt"), "also mine");
        try (OutputDirectory out = OutputDirectory.prepare(target, true, List.of())) {
            Files.writeString(out.staging().resolve("model.safetensors"), "new");
            Files.writeString(out.staging().resolve("README.md"), "new card");
            out.commit();
        }
        assertEquals(List.of(MANIFEST, "README.md", "eval", "model.safetensors", "notes.txt", "sub"), listing(target));
        assertEquals("mine", Files.readString(target.resolve("notes.txt")));
        assertEquals("0.7", Files.readString(target.resolve("eval/results.json")));
        assertEquals(List.of("mine.txt"), listing(target.resolve("sub")), "the listed sub/x.json went, the user's file stayed");
        assertEquals("new card", Files.readString(target.resolve("README.md")));
        assertEquals("new", Files.readString(target.resolve("model.safetensors")));
        JsonNode m = Json.read(target.resolve(MANIFEST));
        assertTrue(m.get("complete").asBoolean());
        assertEquals(2, m.get("files").size(), "the new manifest lists only the new output's files");
        assertEquals(List.of("out"), listing(tmp), "no .old, .partial or .lock sibling left");
        assertEquals(1, warnings.size(), warnings.toString());
        String w = warnings.get(0);
        assertTrue(w.contains("kept 3 files") && w.contains("notes.txt") && w.contains("eval/") && w.contains("sub/mine.txt"), w);
        // and again: the user's files are still not the output's, so they stay once more
        writeOutput(target, true, Map.of("model.safetensors", "newer"));
        assertEquals(List.of(MANIFEST, "eval", "model.safetensors", "notes.txt", "sub"), listing(target));
    }

    @Test
    void forceWithoutCommitKeepsTheOldOutput() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("stale.txt", "old"));
        Map<String, String> before = snapshot(target);
        try (OutputDirectory out = OutputDirectory.prepare(target, true, List.of())) {
            Files.writeString(out.staging().resolve("new.txt"), "new");
        }
        assertEquals(before, snapshot(target));
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void aListedFileChangedSinceItWasWrittenIsNotDeleted() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("README.md", "card", "model.safetensors", "w"));
        Files.writeString(target.resolve("README.md"), "the user's own model card, edited");
        Map<String, String> before = snapshot(target);
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, true, List.of()));
        assertTrue(e.getMessage().startsWith(target.resolve("README.md") + ": has 33 bytes where mergestream wrote 4"),
                e.getMessage());
        assertEquals(before, snapshot(target));
    }

    @Test
    void aListedPathReachingOutThroughASymbolicLinkIsNotFollowed() throws IOException {
        Path elsewhere = Files.createDirectory(tmp.resolve("elsewhere"));
        Files.writeString(elsewhere.resolve("x.json"), "x");
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("sub/x.json", "x", "model.safetensors", "w"));
        OutputDirectory.deleteTree(target.resolve("sub"));
        Files.createSymbolicLink(target.resolve("sub"), elsewhere);
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, true, List.of()));
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        assertEquals("x", Files.readString(elsewhere.resolve("x.json")));
    }

    @Test
    void aManifestThatIsNotMergestreamsOrPointsOutsideIsRefused() throws IOException {
        Path victim = Files.writeString(tmp.resolve("victim.txt"), "keep");
        Map<String, String> manifests = Map.of(
                "{not json", "not valid JSON",
                "", "not written by mergestream",
                "{\"written_by\": \"mergestream\", \"format\": 1, \"complete\": true, \"files\": []} {\"files\": []}",
                "not valid JSON",
                "{\"written_by\": \"someone\", \"format\": 1, \"complete\": true, \"files\": []}", "not written by mergestream",
                "{\"written_by\": \"mergestream\", \"format\": 1, \"complete\": true, \"files\": [{\"path\": \"../victim.txt\", \"size\": 4}]}",
                "outside the directory",
                "{\"written_by\": \"mergestream\", \"format\": 1, \"complete\": true, \"files\": [{\"path\": \"" + victim + "\", \"size\": 4}]}",
                "outside the directory");
        for (Map.Entry<String, String> c : manifests.entrySet()) {
            Path target = tmp.resolve("out");
            OutputDirectory.deleteTree(target);
            Files.createDirectory(target);
            Files.writeString(target.resolve("model.safetensors"), "w");
            Files.writeString(target.resolve(MANIFEST), c.getKey());
            Map<String, String> before = snapshot(target);
            MergestreamException e = assertThrows(MergestreamException.class,
                    () -> OutputDirectory.prepare(target, true, List.of()), c.getKey());
            assertTrue(e.getMessage().startsWith(target.resolve(MANIFEST) + ": ") && e.getMessage().contains(c.getValue()),
                    e.getMessage());
            assertEquals(before, snapshot(target));
        }
        assertEquals("keep", Files.readString(victim));
    }

    @Test
    void aNewFileWhereTheUserHasOneFailsTheCommitAndChangesNothing() throws IOException {
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("model.safetensors", "old"));
        Files.writeString(target.resolve("model.safetensors.index.json"), "the user's");
        Map<String, String> before = snapshot(target);
        try (OutputDirectory out = OutputDirectory.prepare(target, true, List.of())) {
            Files.writeString(out.staging().resolve("model-00001-of-00001.safetensors"), "new");
            Files.writeString(out.staging().resolve("model.safetensors.index.json"), "new index");
            MergestreamException e = assertThrows(MergestreamException.class, out::commit);
            assertTrue(e.getMessage().startsWith(target.resolve("model.safetensors.index.json") + ": mergestream did not write it"),
                    e.getMessage());
        }
        assertEquals(before, snapshot(target));
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void anUnfinishedReplacementIsCleanedByTheNextForcedRun() throws IOException {
        // what a run killed in the middle of an in-place replacement leaves: its journal lists old and new files
        Path target = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(target.resolve("notes.txt"), "mine");
        Files.writeString(target.resolve("config.json"), "old config");
        Files.writeString(target.resolve("model.safetensors"), "new weights");
        Files.writeString(target.resolve(MANIFEST), "{\"written_by\": \"mergestream\", \"format\": 1, \"complete\": false,"
                + " \"files\": [{\"path\": \"config.json\", \"size\": 10}, {\"path\": \"config.json\", \"size\": 3},"
                + " {\"path\": \"model.safetensors\", \"size\": 11}, {\"path\": \"old-shard.safetensors\", \"size\": 1}]}");
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, false, List.of()));
        assertTrue(e.getMessage().contains("unfinished"), e.getMessage());
        writeOutput(target, true, Map.of("model.safetensors", "w"));
        assertEquals(List.of(MANIFEST, "model.safetensors", "notes.txt"), listing(target));
        assertEquals("mine", Files.readString(target.resolve("notes.txt")));
    }

    // ---- what may never be the output -----------------------------------------------------------------------

    @Test
    void refusesTargetsOverlappingAnInput() throws IOException {
        Path model = Files.createDirectory(tmp.resolve("model"));
        Files.writeString(model.resolve("model.safetensors"), "w");
        Map<Path, String> targets = Map.of(model, ": is ", model.resolve("merged"), ": lies inside ",
                tmp.resolve("x/../model"), ": is ", tmp, ": holds ");
        for (Map.Entry<Path, String> t : targets.entrySet()) {
            MergestreamException e = assertThrows(MergestreamException.class,
                    () -> OutputDirectory.prepare(t.getKey(), true, List.of(Path.of("/nonexistent/other"), model)),
                    t.getKey().toString());
            assertTrue(e.getMessage().startsWith(t.getKey() + t.getValue() + model + ", which this run reads"), e.getMessage());
        }
        // An input given as a file inside the target is refused too (a recipe, a tokenizer file).
        Path out = tmp.resolve("out");
        assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(out, true, List.of(out.resolve("in/recipe.yml"))));
        assertEquals(List.of("model"), listing(tmp), "nothing created, nothing removed");
        assertEquals(List.of("model.safetensors"), listing(model));
    }

    @Test
    void refusesATargetReachingAnInputThroughASymlink() throws IOException {
        Path model = Files.createDirectory(tmp.resolve("model"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), model);
        assertThrows(MergestreamException.class, () -> OutputDirectory.prepare(link.resolve("merged"), false, List.of(model)));
        assertThrows(MergestreamException.class, () -> OutputDirectory.prepare(link, true, List.of(model)));
        assertFalse(Files.exists(model.resolve("merged")));
    }

    @Test
    void aSymbolicLinkToADirectoryIsWrittenThroughAndStays() throws IOException {
        Path real = Files.createDirectory(tmp.resolve("real"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), real);
        writeOutput(link, false, Map.of("model.safetensors", "w"));
        assertTrue(Files.isSymbolicLink(link));
        assertEquals("w", Files.readString(real.resolve("model.safetensors")));
    }

    @Test
    void aDanglingSymbolicLinkIsRefusedInOneLine() throws IOException {
        Path nowhere = tmp.resolve("nowhere/deeper");
        Path link = Files.createSymbolicLink(tmp.resolve("out"), nowhere);
        for (Path target : List.of(link, link.resolve("merged"))) {
            MergestreamException e = assertThrows(MergestreamException.class,
                    () -> OutputDirectory.prepare(target, true, List.of()));
            assertTrue(e.getMessage().startsWith(target + ": ") && e.getMessage().contains("symbolic link to " + nowhere)
                    && e.getMessage().contains("does not exist"), e.getMessage());
        }
        assertFalse(Files.exists(tmp.resolve("nowhere")), "the link's target was not created");
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void theRootTheHomeAndTheCurrentDirectoryAndWhatHoldsThemAreProtected() {
        // the pure check only: a wrong implementation must not be able to touch these directories in a test
        Path cwd = OutputDirectory.realOrAbsolute(Path.of(""));
        Path home = OutputDirectory.realOrAbsolute(Path.of(System.getProperty("user.home")));
        assertEquals("is the filesystem root", OutputDirectory.protectedReason(Path.of("/")));
        assertEquals("is the current directory", OutputDirectory.protectedReason(cwd));
        assertEquals("holds the current directory", OutputDirectory.protectedReason(cwd.getParent()));
        assertEquals("is the home directory", OutputDirectory.protectedReason(home));
        assertNotNull(OutputDirectory.protectedReason(home.getParent()));
        assertNull(OutputDirectory.protectedReason(OutputDirectory.realOrAbsolute(tmp.resolve("out"))));
        assertNull(OutputDirectory.protectedReason(cwd.resolve("target/some-output")));
    }

    // ---- one run per output ---------------------------------------------------------------------------------

    @Test
    void aSecondRunIntoTheSameOutputIsRefusedWhileTheFirstHoldsIt() throws IOException {
        Path target = tmp.resolve("out");
        try (OutputDirectory first = OutputDirectory.prepare(target, false, List.of())) {
            Files.writeString(first.staging().resolve("a"), "first");
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> OutputDirectory.prepare(target, true, List.of()));
            assertEquals("another mergestream run is writing " + target + " (pid " + ProcessHandle.current().pid()
                    + "); wait for it to finish", e.getMessage());
            assertEquals("first", Files.readString(first.staging().resolve("a")), "the first run's staging is untouched");
            first.commit();
        }
        assertEquals("first", Files.readString(target.resolve("a")));
        writeOutput(target, true, Map.of("a", "second"));
        assertEquals("second", Files.readString(target.resolve("a")));
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void aLockHeldByAnotherChannelIsReportedWithTheHoldersPid() throws IOException {
        Path target = tmp.resolve("out");
        Path lockFile = tmp.resolve(".out.lock");
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             var held = ch.tryLock()) {
            assertNotNull(held);
            ch.write(java.nio.ByteBuffer.wrap("4242\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> OutputDirectory.prepare(target, false, List.of()));
            assertTrue(e.getMessage().contains("(pid 4242)"), e.getMessage());
        }
        assertFalse(Files.exists(target));
    }

    // ---- what killed runs left ------------------------------------------------------------------------------

    @Test
    void stagingLeftByAKilledRunIsRemovedAndALiveRunsIsKept() throws IOException {
        long dead = deadPid();
        Process live = new ProcessBuilder("cat").start(); // waits on its stdin until destroyed
        try {
            Path target = tmp.resolve("out");
            Path stale = Files.createDirectory(tmp.resolve(".out.partial-" + dead));
            Files.write(stale.resolve("model.safetensors"), new byte[1 << 20]);
            Path staleOld = Files.createDirectory(tmp.resolve(".out.old-" + dead));
            Files.writeString(staleOld.resolve("config.json"), "{}");
            Path running = Files.createDirectory(tmp.resolve(".out.partial-" + live.pid()));
            Files.writeString(running.resolve("model.safetensors"), "being written");
            Path unrelated = Files.createDirectory(tmp.resolve(".out.partial-notapid"));
            writeOutput(target, false, Map.of("model.safetensors", "w"));
            assertEquals(List.of(".out.partial-" + live.pid(), ".out.partial-notapid", "out"), listing(tmp));
            assertEquals("being written", Files.readString(running.resolve("model.safetensors")));
            assertTrue(Files.isDirectory(unrelated));
            assertEquals(2, warnings.size(), warnings.toString());
            assertTrue(warnings.stream().allMatch(w -> w.contains("(pid " + dead + ") that was killed")), warnings.toString());
        } finally {
            live.destroy();
        }
    }

    @Test
    void anOldOutputMovedAsideByAKilledRunIsPutBack() throws IOException {
        long dead = deadPid();
        Path target = tmp.resolve("out");
        writeOutput(target, false, Map.of("model.safetensors", "old"));
        Map<String, String> before = snapshot(target);
        // killed between its two renames: the old output aside, nothing in its place
        Files.move(target, tmp.resolve(".out.old-" + dead));
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, false, List.of()));
        assertTrue(e.getMessage().contains("earlier mergestream output"), e.getMessage());
        assertEquals(before, snapshot(target));
        assertEquals(List.of("out"), listing(tmp));
        assertTrue(warnings.get(0).contains("put back the earlier output"), warnings.toString());
    }

    @Test
    void nestedOutputsEachGetAManifestAndTheOuterListsThem() throws IOException {
        Path target = tmp.resolve("family");
        try (OutputDirectory family = OutputDirectory.prepare(target, false, List.of())) {
            try (OutputDirectory model = OutputDirectory.prepare(family.staging().resolve("base"), false, List.of())) {
                Files.writeString(model.staging().resolve("model.safetensors"), "w");
                model.commit();
            }
            Files.writeString(family.staging().resolve("family.json"), "{}");
            family.commit();
        }
        assertEquals(List.of(MANIFEST, "base", "family.json"), listing(target));
        assertEquals(List.of(MANIFEST, "model.safetensors"), listing(target.resolve("base")));
        List<String> listed = new ArrayList<>();
        for (JsonNode f : Json.read(target.resolve(MANIFEST)).get("files")) listed.add(f.get("path").asText());
        assertEquals(List.of("base/" + MANIFEST, "base/model.safetensors", "family.json"), listed);
        assertTrue(Files.isRegularFile(target.resolve("base/model.safetensors"), LinkOption.NOFOLLOW_LINKS));
    }
}
