package io.mergestream.cli;

import io.mergestream.MergestreamException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code mergestream} command line: thin picocli commands over the library. */
@Command(name = "mergestream", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Merges large language model checkpoints as a stream (DARE, TIES, task arithmetic).",
        subcommands = {MergeCommand.class, InspectCommand.class, TestdataCommand.class, DareCommand.class, DeltaStatsCommand.class, DiffCommand.class, ConvertCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    /** Exit code for bad input: a malformed file, a bad recipe, a bad option. */
    public static final int EXIT_BAD_INPUT = 2;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code, without exiting (for tests). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** As {@link #run(String...)}, printing to {@code out} and {@code err} instead of the console (for tests). */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        return cl.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof MergestreamException) {
                err.println("mergestream: " + ex.getMessage());
                err.flush();
                return EXIT_BAD_INPUT;
            }
            if (ex instanceof java.io.UncheckedIOException io) {
                err.println("mergestream: " + io.getMessage());
                err.flush();
                return 1;
            }
            throw ex;
        });
        cl.setExitCodeExceptionMapper(ex -> EXIT_BAD_INPUT);
        return cl;
    }
}
