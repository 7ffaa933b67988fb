package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mergestream.Warnings;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way a user can make a run fail ends in one line on stderr that names the culprit, and the exit code
 * the README promises: 0 ok, 1 I/O, 2 bad input, 3 internal error (with the trace in a file); diff 0 / 1 / 2.
 * Everything runs through {@link Main#run(PrintWriter, PrintWriter, String...)}, the CLI's own code path.
 */
class FailureModesTest {

    static final Path TINY = Path.of("testdata", "tiny-llama").toAbsolutePath();

    @TempDir
    Path dir;

    private String previousReportDir;

    record Run(int code, String out, String err) {
        /** stderr is exactly one line, with no stack trace in it. */
        String oneLine() {
            List<String> lines = err.lines().toList();
            assertEquals(1, lines.size(), "stderr is not one line:\n" + err);
            assertFalse(err.contains("\tat ") || err.contains("Exception in thread"), err);
            return lines.get(0);
        }
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeEach
    void reportsIntoTempDir() throws IOException {
        previousReportDir = System.getProperty(Main.REPORT_DIR_PROPERTY);
        System.setProperty(Main.REPORT_DIR_PROPERTY, Files.createDirectories(dir.resolve("reports")).toString());
    }

    @AfterEach
    void restore() {
        if (previousReportDir == null) System.clearProperty(Main.REPORT_DIR_PROPERTY);
        else System.setProperty(Main.REPORT_DIR_PROPERTY, previousReportDir);
    }

    private Path mkfifo(String name) throws Exception {
        Path fifo = dir.resolve(name);
        Process p;
        try {
            p = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            assumeTrue(false, "no mkfifo on this system: " + e.getMessage());
            throw e;
        }
        assertEquals(0, p.waitFor(), "mkfifo failed");
        return fifo;
    }

    private Path recipe(String body) throws IOException {
        Path r = dir.resolve("recipe.yml");
        Files.writeString(r, body, StandardCharsets.UTF_8);
        return r;
    }

    // ------------------------------------------------------------------ special files: FIFOs and devices

    // The timeouts only keep a regression (an open() that blocks on the FIFO) from hanging the whole suite.
    @Test
    @Timeout(120)
    void fifoAsRecipeIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = mkfifo("recipe.yml");
        Run r = run("merge", fifo.toString(), "-o", dir.resolve("out").toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        String line = r.oneLine();
        assertTrue(line.contains(fifo.toString()) && line.contains("FIFO") && line.contains("not a regular file"), line);
        assertFalse(Files.exists(dir.resolve("out")));
    }

    @Test
    @Timeout(120)
    void fifoAsModelFileOrAsModelSafetensorsInADirectoryIsRefused() throws Exception {
        Path fifo = mkfifo("weights.safetensors");
        Run r = run("inspect", fifo.toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertTrue(r.oneLine().contains("weights.safetensors: cannot read the safetensors file: it is a FIFO"), r.err());

        Path model = Files.createDirectories(dir.resolve("model"));
        Process p = new ProcessBuilder("mkfifo", model.resolve("model.safetensors").toString()).start();
        assertEquals(0, p.waitFor());
        Run d = run("inspect", model.toString());
        assertEquals(Main.EXIT_BAD_INPUT, d.code());
        assertTrue(d.oneLine().contains("model/model.safetensors: cannot read the safetensors file: it is a FIFO"), d.err());
    }

    @Test
    @Timeout(120)
    void fifoAsConfigOrIndexIsRefused() throws Exception {
        Path model = Files.createDirectories(dir.resolve("sharded"));
        Process p = new ProcessBuilder("mkfifo", model.resolve("model.safetensors.index.json").toString()).start();
        assertEquals(0, p.waitFor());
        Run r = run("inspect", model.toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertTrue(r.oneLine().contains("model.safetensors.index.json: cannot read the JSON file: it is a FIFO"), r.err());
    }

    @Test
    void devZeroAsRecipeIsRefusedInsteadOfFillingTheHeap() {
        Path zero = Path.of("/dev/zero");
        assumeTrue(Files.exists(zero));
        Run r = run("merge", zero.toString(), "-o", dir.resolve("out").toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals("mergestream: /dev/zero: cannot read the recipe: it is a character device, not a regular file",
                r.oneLine());
    }

    @Test
    void devZeroAsModelIsRefused() throws IOException {
        assumeTrue(Files.exists(Path.of("/dev/zero")));
        Run r = run("inspect", "/dev/zero");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals("mergestream: /dev/zero: cannot read the safetensors file: it is a character device, not a regular file",
                r.oneLine());
        // and as a fine-tune in a recipe
        Path rec = recipe("merge_method: linear\nparameters: {weight: 1.0}\nmodels:\n  - model: " + TINY.resolve("base")
                + "\n  - model: /dev/zero\n");
        Run m = run("merge", rec.toString(), "-o", dir.resolve("out").toString(), "-q");
        assertEquals(Main.EXIT_BAD_INPUT, m.code());
        assertTrue(m.oneLine().contains("/dev/zero: cannot read the safetensors file: it is a character device"), m.err());
    }

    @Test
    void recipeOverTheSizeLimitIsRefusedBeforeReading() throws IOException {
        Path big = dir.resolve("big.yml");
        try (var ch = java.nio.channels.FileChannel.open(big, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {'#'}), (16L << 20)); // sparse: 16 MiB + 1 byte
        }
        Run r = run("merge", big.toString(), "-o", dir.resolve("out").toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertTrue(r.oneLine().contains("it is 16777217 bytes, over the limit of 16777216 bytes (16 MiB)"), r.err());
    }

    // ------------------------------------------------------------------ impossible paths, bad options

    @Test
    void nulInACommandLinePathIsOneLine() {
        Run r = run("inspect", "model\0dir");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        String line = r.oneLine();
        assertTrue(line.contains("model\\u0000dir") && line.contains("see 'mergestream inspect --help'"), line);
    }

    @Test
    void nulInARecipeModelPathIsOneLineNamingIt() throws IOException {
        Path rec = recipe("merge_method: linear\nparameters: {weight: 1.0}\nmodels:\n  - model: \"ft\\0x\"\n  - model: "
                + TINY.resolve("ft1") + "\n");
        Run r = run("merge", rec.toString(), "-o", dir.resolve("out").toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        String line = r.oneLine();
        assertTrue(line.contains("ft\\u0000x") && line.contains("not a possible path"), line);
    }

    @Test
    void nulInAShardNameOfAnIndexNamesTheIndexAndTensor() throws IOException {
        Path model = Files.createDirectories(dir.resolve("nul-shard"));
        Files.copy(TINY.resolve("base/model.safetensors"), model.resolve("model-00001-of-00001.safetensors"));
        Files.writeString(model.resolve("model.safetensors.index.json"),
                "{\"metadata\": {}, \"weight_map\": {\"lm_head.weight\": \"model-0000\\u00001-of-00001.safetensors\"}}");
        Run r = run("inspect", model.toString());
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        String line = r.oneLine();
        assertTrue(line.contains("model.safetensors.index.json: tensor 'lm_head.weight': weight_map names an impossible "
                + "file name 'model-0000\\u00001-of-00001.safetensors'"), line);
    }

    @Test
    void unknownKernelIsOneLine() {
        Run r = run("merge", "testdata/recipes/linear.yml", "-o", dir.resolve("out").toString(), "--kernel", "bogus");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals("mergestream: Invalid value for option '--kernel': unknown kernel 'bogus': choose auto, vector, "
                + "scalar, native (see 'mergestream merge --help')", r.oneLine());
        Run d = run("dare", "--base", "b", "--model", "m", "--density", "0.5", "-o", "x", "--kernel", "bogus");
        assertEquals(Main.EXIT_BAD_INPUT, d.code());
        assertTrue(d.oneLine().contains("unknown kernel 'bogus'"), d.err());
    }

    @Test
    void parseErrorsAreOneLinePointingAtHelp() {
        Run unknown = run("inspect", "--bogus", "x");
        assertEquals(Main.EXIT_BAD_INPUT, unknown.code());
        assertEquals("mergestream: Unknown option: '--bogus' (see 'mergestream inspect --help')", unknown.oneLine());
        Run missing = run("merge");
        assertEquals(Main.EXIT_BAD_INPUT, missing.code());
        assertTrue(missing.oneLine().contains("see 'mergestream merge --help'"), missing.err());
        Run none = run();
        assertEquals(Main.EXIT_BAD_INPUT, none.code());
        assertEquals("mergestream: Missing required subcommand (see 'mergestream --help')", none.oneLine());
        Run badNumber = run("merge", "r.yml", "-o", "x", "--threads", "two");
        assertEquals(Main.EXIT_BAD_INPUT, badNumber.code());
        assertTrue(badNumber.oneLine().contains("'two'"), badNumber.err());
    }

    // ------------------------------------------------------------------ names with control characters

    @Test
    void inspectAndDryRunShowControlCharactersInNamesEscaped() throws IOException {
        String evil = "model.evil\n\u001b[2Jname";
        java.util.Random rnd = new java.util.Random(3);
        Path a = Files.createDirectories(dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        for (Path m : List.of(a, b)) {
            io.mergestream.format.TestCheckpoints.write(m, List.of(
                    io.mergestream.format.TestCheckpoints.random(rnd, evil, io.mergestream.tensor.DType.F32, 2),
                    io.mergestream.format.TestCheckpoints.random(rnd, "ok", io.mergestream.tensor.DType.F32, 2)), Long.MAX_VALUE);
        }
        Run inspect = run("inspect", "--tensors", a.toString());
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("model.evil\\n\\u001b[2Jname "), inspect.out());
        assertFalse(inspect.out().contains("\u001b"), "a raw ESC reached the terminal");
        assertEquals(2, inspect.out().lines().filter(l -> l.endsWith("model.safetensors") && !l.startsWith(" ")).count(),
                "one line per tensor:\n" + inspect.out());

        Path rec = recipe("merge_method: linear\nparameters: {weight: 1.0}\nmodels:\n  - model: " + a + "\n  - model: " + b + "\n");
        Run dry = run("merge", rec.toString(), "-o", dir.resolve("out").toString(), "--dry-run");
        assertEquals(0, dry.code(), dry.err());
        assertTrue(dry.out().contains("  model.evil\\n\\u001b[2Jname "), dry.out());
        assertFalse(dry.out().contains("\u001b"));

        Run json = run("inspect", "--tensors", "--json", a.toString());
        assertEquals(evil, io.mergestream.format.Json.MAPPER.readTree(json.out()).get("tensors").get(0).get("name").asText(),
                "JSON carries the name itself (its writer escapes it)");
    }

    // ------------------------------------------------------------------ internal errors

    /** A directory with both layouts: opening it warns once, which lets a test make the warning throw. */
    private Path bothLayouts() throws IOException {
        Path model = Files.createDirectories(dir.resolve("both"));
        Files.copy(TINY.resolve("base/model.safetensors"), model.resolve("model.safetensors"));
        Files.writeString(model.resolve("model.safetensors.index.json"), "{\"weight_map\": {}}");
        return model;
    }

    private static final Pattern REPORT = Pattern.compile(
            "^mergestream: internal error \\((.*)\\); please report it with the details in (\\S+)$");

    @Test
    void unexpectedExceptionExits3WithTheTraceInANamedFile() throws IOException {
        Path model = bothLayouts();
        Warnings.Listener previous = Warnings.set(m -> {
            throw new IllegalStateException("injected fault");
        });
        Run r;
        try {
            r = run("inspect", model.toString());
        } finally {
            Warnings.set(previous);
        }
        assertEquals(Main.EXIT_INTERNAL, r.code());
        Matcher m = REPORT.matcher(r.oneLine());
        assertTrue(m.matches(), r.err());
        assertEquals("java.lang.IllegalStateException: injected fault", m.group(1));
        Path report = Path.of(m.group(2));
        assertTrue(report.startsWith(dir.resolve("reports")), report.toString());
        String trace = Files.readString(report);
        assertTrue(trace.contains("java.lang.IllegalStateException: injected fault"), trace);
        // a frame of the module io.mergestream reads "at io.mergestream@VERSION/io.mergestream...."
        assertTrue(java.util.regex.Pattern.compile("at (io\\.mergestream@[^/]+/)?io\\.mergestream\\.format\\.checkpoint"
                + "\\.Checkpoint\\.open\\(").matcher(trace).find(), trace);
        assertTrue(report.getFileName().toString().startsWith("mergestream-error-" + ProcessHandle.current().pid() + "-"));
    }

    @Test
    void anErrorIsAnInternalErrorToo() throws IOException {
        Path model = bothLayouts();
        Warnings.Listener previous = Warnings.set(m -> {
            throw new StackOverflowError("injected");
        });
        Run r;
        try {
            r = run("inspect", model.toString());
        } finally {
            Warnings.set(previous);
        }
        assertEquals(Main.EXIT_INTERNAL, r.code());
        assertTrue(REPORT.matcher(r.oneLine()).matches(), r.err());
    }

    @Test
    void ioFailuresExit1() {
        StringWriter err = new StringWriter();
        int code = Main.report(new UncheckedIOException("cannot write /x/y: No space left on device",
                new IOException("No space left on device")), new PrintWriter(err, true));
        assertEquals(Main.EXIT_IO, code);
        assertEquals("mergestream: cannot write /x/y: No space left on device\n", err.toString());
        StringWriter err2 = new StringWriter();
        assertEquals(Main.EXIT_IO, Main.report(new java.nio.file.AccessDeniedException("/m/model.safetensors"),
                new PrintWriter(err2, true)));
        // the JDK's message is the bare path: the line says what happened (issue 15)
        assertEquals("mergestream: /m/model.safetensors: permission denied\n", err2.toString());
    }

    @Test
    void ioFailureOfARealRunExits1() throws IOException {
        // Root ignores permissions, and an output under a plain file is refused as bad input before anything
        // is created; procfs refuses new directories to root too: a real I/O failure at creation.
        Path proc = Path.of("/proc/mergestream-failure-modes-test");
        Run r = run("merge", "testdata/recipes/linear.yml", "-o", proc.resolve("out").toString(), "-q");
        assertEquals(Main.EXIT_IO, r.code(), r.toString());
        assertTrue(r.oneLine().startsWith("mergestream: cannot create " + proc), r.err());
    }

    // ------------------------------------------------------------------ diff: 0 same, 1 different, 2 trouble

    @Test
    void diffKeepsDiffsExitCodes() throws IOException {
        assertEquals(0, run("diff", TINY.resolve("ft1").toString(), TINY.resolve("ft1").toString(), "-q").code());
        assertEquals(1, run("diff", TINY.resolve("ft1").toString(), TINY.resolve("ft2").toString(), "-q").code());
        Run missing = run("diff", TINY.resolve("ft1").toString(), dir.resolve("nope").toString(), "-q");
        assertEquals(Main.EXIT_DIFF_TROUBLE, missing.code());
        missing.oneLine();
        Run parse = run("diff", "--bogus");
        assertEquals(Main.EXIT_DIFF_TROUBLE, parse.code());
        parse.oneLine();

        Path model = bothLayouts();
        for (RuntimeException fault : List.of(new IllegalStateException("injected"),
                new UncheckedIOException("injected I/O failure", new IOException("x")))) {
            Warnings.Listener previous = Warnings.set(m -> {
                throw fault;
            });
            Run r;
            try {
                r = run("diff", model.toString(), TINY.resolve("base").toString(), "-q");
            } finally {
                Warnings.set(previous);
            }
            assertEquals(Main.EXIT_DIFF_TROUBLE, r.code(), "diff must not exit 1 (\"different\") or 3 on " + fault);
            r.oneLine();
        }
        Warnings.Listener previous = Warnings.set(m -> {
            throw new StackOverflowError("injected");
        });
        try {
            assertEquals(Main.EXIT_DIFF_TROUBLE, run("diff", model.toString(), TINY.resolve("base").toString(), "-q").code());
        } finally {
            Warnings.set(previous);
        }
        try (Stream<Path> reports = Files.list(dir.resolve("reports"))) {
            assertEquals(2, reports.count(), "each internal error leaves one report");
        }
    }
}
