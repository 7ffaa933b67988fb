package io.mergestream.cli;

import io.mergestream.IoErrors;
import io.mergestream.MergestreamException;
import io.mergestream.Names;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code mergestream} command line: thin picocli commands over the library.
 *
 * <p>Exit codes, for every command but {@code diff}: {@value #EXIT_OK} success; {@value #EXIT_IO} an I/O
 * failure (a file that cannot be read or written, a full disk); {@value #EXIT_BAD_INPUT} bad input (a bad
 * option, recipe, path or model file); {@value #EXIT_INTERNAL} an internal error (a bug: one line asking for
 * a report and naming a file that holds the stack trace). {@code diff} exits 0 when the models match, 1 when
 * they differ and 2 on any trouble, as diff(1) does. Whatever happens, stderr gets one line, never a stack
 * trace.
 */
@Command(name = "mergestream", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Merges large language model checkpoints as a stream (DARE, TIES, task arithmetic).",
        subcommands = {MergeCommand.class, InspectCommand.class, TestdataCommand.class, DareCommand.class, PackCommand.class, ApplyCommand.class, DeltaStatsCommand.class, DiffCommand.class, ConvertCommand.class, CommandLine.HelpCommand.class,
                AutoComplete.GenerateCompletion.class})
public final class Main {

    public static final int EXIT_OK = 0;
    /** An I/O failure: a file that cannot be read or written. */
    public static final int EXIT_IO = 1;
    /** Bad input: a malformed file, a bad recipe, a bad option or path. */
    public static final int EXIT_BAD_INPUT = 2;
    /** A bug in mergestream: the stack trace is saved to a file the message names. */
    public static final int EXIT_INTERNAL = 3;
    /** diff(1)'s code for trouble of any kind (bad input, I/O, internal), distinct from its 1 for "differ". */
    public static final int EXIT_DIFF_TROUBLE = 2;

    /** Where internal-error reports go: this system property's directory, else java.io.tmpdir. */
    static final String REPORT_DIR_PROPERTY = "mergestream.reportDir";

    public static void main(String[] args) {
        // first, so that nothing is written before stderr is the real one again (see Terminal)
        Terminal.adoptLauncherStderr();
        Runnable finished = Terminal.installInterruptLine();
        int code = run(args);
        finished.run();
        System.exit(code);
    }

    /** Runs the command line and returns the exit code, without exiting (for tests). */
    public static int run(String... args) {
        CommandLine cl = commandLine();
        return execute(cl, args);
    }

    /** As {@link #run(String...)}, printing to {@code out} and {@code err} instead of the console (for tests). */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        return execute(cl, args);
    }

    private static int execute(CommandLine cl, String[] args) {
        // the command line owns the process: its warnings and notices are lines on stderr (unless a test or an
        // embedding program installed a listener of its own)
        if (io.mergestream.Warnings.processWide() == io.mergestream.Warnings.LOGGER) {
            io.mergestream.Warnings.set(io.mergestream.Warnings.STDERR);
        }
        try {
            return cl.execute(args);
        } catch (Throwable t) {
            // picocli hands Exceptions to the handler below; Errors (OutOfMemoryError, StackOverflowError)
            // come through here.
            int code = report(t, cl.getErr());
            return isDiff(cl.getParseResult()) ? EXIT_DIFF_TROUBLE : code;
        }
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            int code = report(ex, cmd.getErr());
            return cmd.getCommand() instanceof DiffCommand ? EXIT_DIFF_TROUBLE : code;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
            err.println("mergestream: " + Names.printable(msg.strip()) + " (see '"
                    + cmd.getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return EXIT_BAD_INPUT;
        });
        cl.setExitCodeExceptionMapper(ex -> EXIT_BAD_INPUT);
        return cl;
    }

    private static boolean isDiff(CommandLine.ParseResult parseResult) {
        if (parseResult == null) return false;
        CommandLine.ParseResult last = parseResult;
        while (last.subcommand() != null) last = last.subcommand();
        return last.commandSpec().userObject() instanceof DiffCommand;
    }

    /** Prints the one line that {@code t} deserves on {@code err} and returns its exit code. */
    static int report(Throwable t, PrintWriter err) {
        int code;
        String line;
        if (t instanceof MergestreamException || t instanceof io.mergestream.api.BadInputException) {
            code = EXIT_BAD_INPUT;
            line = t.getMessage();
        } else if (t instanceof io.mergestream.api.MergeIOException
                || t instanceof io.mergestream.api.MergeCancelledException) {
            // the library's own types carry the one line already (a cancel: the JVM is stopping, Ctrl-C); an I/O
            // failure is said in words from the exception it wraps, as for the commands that call the engine
            code = EXIT_IO;
            Throwable cause = t.getCause();
            line = cause instanceof UncheckedIOException || cause instanceof IOException ? IoErrors.describe(cause)
                    : t.getMessage();
        } else if (t instanceof InvalidPathException e) {
            // A NUL in a path from the command line or a recipe: the path itself is the bad input.
            code = EXIT_BAD_INPUT;
            line = "'" + e.getInput() + "' is not a possible path: " + e.getReason();
        } else if (t instanceof UncheckedIOException || t instanceof IOException) {
            code = EXIT_IO;
            line = IoErrors.describe(t);
        } else {
            code = EXIT_INTERNAL;
            line = internalError(t);
        }
        err.println("mergestream: " + Names.printable(line));
        err.flush();
        return code;
    }

    /** Saves the stack trace to a report file and returns the line that names it. */
    private static String internalError(Throwable t) {
        String what = t.getClass().getName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        if (t instanceof OutOfMemoryError) {
            what += "; the Java heap is " + (Runtime.getRuntime().maxMemory() >> 20)
                    + " MB, MERGESTREAM_JAVA_OPTS=-Xmx2g gives more";
        }
        StringWriter trace = new StringWriter();
        try (PrintWriter pw = new PrintWriter(trace)) {
            pw.println("mergestream " + Version.current() + ", Java " + Runtime.version() + ", "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
            t.printStackTrace(pw);
        }
        String time = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT).withZone(ZoneOffset.UTC)
                .format(Instant.now());
        Path dir = Path.of(System.getProperty(REPORT_DIR_PROPERTY, System.getProperty("java.io.tmpdir")));
        try {
            Path file = Files.createTempFile(dir, "mergestream-error-" + ProcessHandle.current().pid() + "-" + time + "-",
                    ".txt");
            Files.writeString(file, trace.toString(), StandardCharsets.UTF_8);
            return "internal error (" + what + "); please report it with the details in " + file;
        } catch (IOException | RuntimeException e) {
            return "internal error (" + what + "); please report it (the details could not be saved in " + dir
                    + ": " + e.getMessage() + ")";
        }
    }
}
