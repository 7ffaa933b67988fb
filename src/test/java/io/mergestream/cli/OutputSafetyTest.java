package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static io.mergestream.TestFiles.copyModel;
import static io.mergestream.TestFiles.deadPid;
import static io.mergestream.TestFiles.listing;
import static io.mergestream.TestFiles.snapshot;

import io.mergestream.Warnings;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data-loss cases of issue 9, each through the command line as a user ran it: {@code -o . --force}, a foreign
 * directory, an earlier output with the user's files beside it, an input (a tokenizer source, the recipe, a model's
 * parent) as the output, {@code delta-stats --html} onto an input, staging left by killed runs, a dangling symbolic
 * link and a second concurrent run. Where a wrong implementation could reach the real current or home directory,
 * the CLI runs in a child JVM whose current directory (or {@code user.home}) is a temporary one.
 */
class OutputSafetyTest {

    static final String MANIFEST = ".mergestream-output.json";

    @TempDir
    static Path dir;

    static Path base;
    static Path ft1;
    static Path recipe;

    record Run(int code, String out, String err) {
        /** stderr without the JVM's own notice about the incubator module. */
        List<String> errLines() {
            return err.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
        }

        String oneLine() {
            List<String> l = errLines();
            assertEquals(1, l.size(), "one line on stderr: " + err);
            return l.get(0);
        }
    }

    @BeforeAll
    static void models() throws IOException {
        base = copyModel("testdata/tiny-llama/base", dir.resolve("models/base"));
        ft1 = copyModel("testdata/tiny-llama/ft1", dir.resolve("models/ft1"));
        recipe = recipe("ta", "");
    }

    static Path recipe(String name, String extra) throws IOException {
        Path r = dir.resolve("recipes/" + name + ".yml");
        Files.createDirectories(r.getParent());
        Files.writeString(r, "merge_method: task_arithmetic\nbase_model: " + base + "\nmodels:\n  - model: " + ft1
                + "\n    parameters: {weight: 0.5}\n" + extra);
        return r;
    }

    /** Runs the CLI in this JVM. */
    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    /** Runs the CLI in a child JVM with {@code cwd} as its current directory and extra JVM flags. */
    static Run child(Path cwd, List<String> jvm, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx128m"));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", io.mergestream.TestFiles.childClassPath(), Main.class.getName()));
        cmd.addAll(List.of(args));
        Path logs = Files.createTempDirectory(dir, "child");
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile())
                .redirectOutput(logs.resolve("out").toFile()).redirectError(logs.resolve("err").toFile()).start();
        int code = p.waitFor();
        return new Run(code, Files.readString(logs.resolve("out")), Files.readString(logs.resolve("err")));
    }

    static Path fresh(String name) throws IOException {
        Path d = dir.resolve("cases/" + name);
        Files.createDirectories(d);
        return d;
    }

    // ---- -o . --force, the home directory ---------------------------------------------------------------------

    @Test
    void dotWithForceIsRefusedAndTheUnrelatedFileInTheCurrentDirectoryStays() throws Exception {
        Path cwd = fresh("cwd");
        Files.writeString(cwd.resolve("thesis.tex"), "two years of work");
        Path work = Files.createDirectory(cwd.resolve("work"));
        Files.writeString(work.resolve("notes.txt"), "notes");
        Map<String, String> before = snapshot(cwd);
        // (the current directory given by its absolute path, and its ancestors: OutputDirectoryTest)
        Run r = child(work, List.of(), "merge", recipe.toString(), "-o", ".", "--force", "-q");
        assertEquals(2, r.code(), r.err());
        assertEquals("mergestream: .: is the current directory, which mergestream never writes into (give a new"
                + " directory for the output)", r.oneLine());
        r = child(work, List.of(), "dare", "--base", base.toString(), "--model", ft1.toString(), "--density", "0.5",
                "-o", "..", "--force", "-q");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.oneLine().startsWith("mergestream: ..: holds the current directory"), r.err());
        assertEquals(before, snapshot(cwd), "nothing in or beside the current directory changed");
    }

    @Test
    void theHomeDirectoryAndWhatHoldsItAreRefused() throws Exception {
        Path home = fresh("home/user");
        Files.writeString(home.resolve(".bashrc"), "export X=1");
        Map<String, String> before = snapshot(home.getParent());
        Path elsewhere = fresh("elsewhere");
        Run r = child(elsewhere, List.of("-Duser.home=" + home), "testdata", home.toString(), "--force");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.oneLine().startsWith("mergestream: " + home + ": is the home directory"), r.err());
        assertEquals(before, snapshot(home.getParent()));
    }

    // ---- foreign directories, earlier outputs ------------------------------------------------------------------

    @Test
    void aForeignDirectoryIsRefusedWithForceAndLeftByteIdentical() throws IOException {
        Path out = Files.createDirectory(fresh("foreign").resolve("downloaded"));
        // a model downloaded from the Hub: mergekit_config.yml and a model card are no marker
        Files.writeString(out.resolve("mergekit_config.yml"), "merge_method: linear\n");
        Files.writeString(out.resolve("README.md"), "# someone's merge\n");
        Files.writeString(out.resolve("model.safetensors"), "not even weights");
        Map<String, String> before = snapshot(out);
        Run r = run("merge", recipe.toString(), "-o", out.toString(), "--force", "-q");
        assertEquals(2, r.code(), r.err());
        String line = r.oneLine();
        assertTrue(line.startsWith("mergestream: " + out + ": exists, is not empty and is not a mergestream output"), line);
        assertTrue(line.contains("--force replaces only an output mergestream wrote"), line);
        assertEquals(before, snapshot(out));
        assertEquals(List.of("downloaded"), listing(out.getParent()), "no staging or lock left beside it");
    }

    @Test
    void anEarlierOutputIsReplacedAndTheUsersFileBesideItIsKept() throws IOException {
        Path cases = fresh("replace");
        Path out = cases.resolve("merged");
        // first a sharded output, then one file: the old shards must go, the user's notes stay
        assertEquals(0, run("merge", recipe.toString(), "-o", out.toString(), "-q", "--out-shard-size", "100KB").code());
        assertTrue(Files.exists(out.resolve("model.safetensors.index.json")));
        Files.writeString(out.resolve("notes.txt"), "eval: 0.71");
        Path reference = cases.resolve("reference");
        Path seeded = recipe("ta-seeded", "parameters: {lambda: 0.8}\n");
        assertEquals(0, run("merge", seeded.toString(), "-o", reference.toString(), "-q").code());

        List<String> warned = new ArrayList<>();
        Warnings.Listener previous = Warnings.set(warned::add);
        Run r;
        try {
            r = run("merge", seeded.toString(), "-o", out.toString(), "-q", "--force");
        } finally {
            Warnings.set(previous);
        }
        assertEquals(0, r.code(), r.err());
        assertEquals("eval: 0.71", Files.readString(out.resolve("notes.txt")));
        List<String> expected = new ArrayList<>(listing(reference));
        expected.add("notes.txt");
        expected.sort(null);
        assertEquals(expected, listing(out), "the new output's files and the user's, no stale shard or index");
        for (String f : listing(reference)) {
            // the model card's title is the output directory's name, and the manifest lists the card's size
            if (f.equals("README.md") || f.equals(".mergestream-output.json")) continue;
            assertArrayEquals(Files.readAllBytes(reference.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
        assertEquals(1, warned.size(), warned.toString());
        assertTrue(warned.get(0).startsWith(out + ": kept 1 file mergestream did not write (notes.txt)"), warned.get(0));
        assertEquals(List.of("merged", "reference"), listing(cases));
    }

    // ---- every path a run reads --------------------------------------------------------------------------------

    @Test
    void theTokenizerSourceAsTheOutputIsRefusedAndLeftByteIdentical() throws IOException {
        Path cases = fresh("tokenizer");
        Path tok = cases.resolve("tok");
        assertEquals(0, run("merge", recipe.toString(), "-o", tok.toString(), "-q").code());
        Map<String, String> before = snapshot(tok);
        Path r2 = recipe("ta-tok", "tokenizer_source: " + tok + "\n");
        Run r = run("merge", r2.toString(), "-o", tok.toString(), "-q", "--force");
        assertEquals(2, r.code(), r.err());
        assertEquals("mergestream: " + tok + ": is " + tok + ", which this run reads; write the output somewhere else",
                r.oneLine());
        assertEquals(before, snapshot(tok));
        // the same recipe into a new directory works: the refusal is about the output, not the recipe
        assertEquals(0, run("merge", r2.toString(), "-o", cases.resolve("ok").toString(), "-q").code());
    }

    @Test
    void theRecipeFileAndAModelsParentAreProtectedToo() throws IOException {
        Path cases = fresh("recipe-inside");
        Path out = cases.resolve("merged");
        assertEquals(0, run("merge", recipe.toString(), "-o", out.toString(), "-q").code());
        // re-running the recipe mergestream saved into the output, into that output
        Path saved = out.resolve(io.mergestream.engine.ModelCard.RECIPE_FILE);
        Map<String, String> before = snapshot(out);
        Run r = run("merge", saved.toString(), "-o", out.toString(), "-q", "--force");
        assertEquals(2, r.code(), r.err());
        assertEquals("mergestream: " + out + ": holds " + saved + ", which this run reads; write the output somewhere else",
                r.oneLine());
        assertEquals(before, snapshot(out));

        Path models = base.getParent();
        Map<String, String> modelsBefore = snapshot(models);
        for (Path o : List.of(models, base, base.resolve("sub"))) {
            Run m = run("merge", recipe.toString(), "-o", o.toString(), "-q", "--force");
            assertEquals(2, m.code(), m.err());
            assertTrue(m.oneLine().contains("which this run reads"), m.err());
        }
        Run d = run("dare", "--base", base.toString(), "--model", ft1.toString(), "--drop-rate", "0.5", "-o",
                ft1.toString(), "--force", "-q");
        assertEquals(2, d.code(), d.err());
        assertTrue(d.oneLine().startsWith("mergestream: " + ft1 + ": is "), d.err());
        assertEquals(modelsBefore, snapshot(models));
    }

    @Test
    void deltaStatsHtmlNeverOverwritesAnInputOrAForeignFile() throws IOException {
        Path cases = fresh("html");
        Path weights = ft1.resolve("model.safetensors");
        byte[] before = Files.readAllBytes(weights);
        Path link = Files.createSymbolicLink(cases.resolve("report.html"), weights);
        Path hardLink = Files.createLink(cases.resolve("hard.html"), weights);
        for (Path html : List.of(weights, link, hardLink)) {
            Run r = run("delta-stats", "--base", base.toString(), "--model", ft1.toString(), "--html", html.toString(), "-q");
            assertEquals(2, r.code(), r.err());
            assertEquals("mergestream: --html " + html + ": is " + weights + ", which this command reads; give another"
                    + " file name", r.oneLine());
            assertEquals("", r.out(), "refused before the statistics were computed");
        }
        assertArrayEquals(before, Files.readAllBytes(weights));

        Path mine = Files.writeString(cases.resolve("mine.html"), "<p>my notes</p>");
        Run r = run("delta-stats", "--base", base.toString(), "--model", ft1.toString(), "--html", mine.toString(), "-q");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.oneLine().contains("exists and was not written by mergestream"), r.err());
        assertEquals("<p>my notes</p>", Files.readString(mine));

        Path report = cases.resolve("new.html");
        assertEquals(0, run("delta-stats", "--base", base.toString(), "--model", ft1.toString(), "--html", report.toString(), "-q").code());
        assertTrue(Files.readString(report).startsWith("<!DOCTYPE html>"));
        Files.writeString(report, Files.readString(report).replace("</body>", "<!-- stale --></body>"));
        assertEquals(0, run("delta-stats", "--base", base.toString(), "--model", ft1.toString(), "--html", report.toString(), "-q").code());
        assertFalse(Files.readString(report).contains("stale"), "an earlier report is replaced");
        assertEquals(List.of("hard.html", "mine.html", "new.html", "report.html"), listing(cases), "no temporary file left");
    }

    // ---- killed runs, links, concurrent runs -------------------------------------------------------------------

    @Test
    void stagingOfAKilledRunIsRemovedByTheNextRunAndALiveRunsIsKept() throws IOException, InterruptedException {
        Path cases = fresh("stale");
        long dead = deadPid();
        Process live = new ProcessBuilder("cat").start();
        try {
            Path stale = Files.createDirectory(cases.resolve(".merged.partial-" + dead));
            Files.write(stale.resolve("model.safetensors"), new byte[4 << 20]);
            Path running = Files.createDirectory(cases.resolve(".merged.partial-" + live.pid()));
            Files.writeString(running.resolve("model.safetensors"), "still being written");
            Run r = run("merge", recipe.toString(), "-o", cases.resolve("merged").toString(), "-q");
            assertEquals(0, r.code(), r.err());
            assertEquals(List.of(".merged.partial-" + live.pid(), "merged"), listing(cases));
            assertEquals("still being written", Files.readString(running.resolve("model.safetensors")));
        } finally {
            live.destroy();
        }
    }

    @Test
    void aDanglingSymbolicLinkAsTheOutputIsOneLine() throws IOException {
        Path cases = fresh("dangling");
        Path gone = cases.resolve("gone");
        Path link = Files.createSymbolicLink(cases.resolve("out"), gone);
        Run r = run("merge", recipe.toString(), "-o", link.toString(), "-q", "--force");
        assertEquals(2, r.code(), r.err());
        assertEquals("mergestream: " + link + ": is a symbolic link to " + gone + ", which does not exist (remove the"
                + " link or give another directory)", r.oneLine());
        assertEquals(List.of("out"), listing(cases));
    }

    @Test
    void aSecondRunIntoAnOutputAnotherProcessIsWritingStopsBeforeMerging() throws Exception {
        Path cases = fresh("concurrent");
        Path out = cases.resolve("merged");
        long pid = ProcessHandle.current().pid();
        // this JVM plays the first run: it holds the output's lock, the CLI in a child process is the second
        try (FileChannel ch = FileChannel.open(cases.resolve(".merged.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock lock = ch.tryLock()) {
            assertNotNull(lock);
            ch.write(ByteBuffer.wrap((pid + "\n").getBytes(StandardCharsets.US_ASCII)));
            Run r = child(cases, List.of(), "merge", recipe.toString(), "-o", out.toString(), "-q", "--force");
            assertEquals(1, r.code(), r.err());
            assertEquals("mergestream: another mergestream run is writing " + out + " (pid " + pid + "); wait for it to"
                    + " finish", r.oneLine());
            assertFalse(Files.exists(out));
            assertEquals(List.of(".merged.lock"), listing(cases), "no staging started");
        }
        Files.delete(cases.resolve(".merged.lock"));
        Run r = run("merge", recipe.toString(), "-o", out.toString(), "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("merged"), listing(cases), "the lock file goes with the run");
    }
}
