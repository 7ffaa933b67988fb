package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.api.DareRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bash completion script {@code mergestream generate-completion} prints, sourced in a real bash and driven
 * as bash drives it on Tab (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT, then the completion function).
 */
class CompletionTest {

    @TempDir
    Path dir;

    /** The words bash would offer for the command line {@code words} with the cursor in the last word. */
    private String complete(String... words) throws IOException, InterruptedException {
        CliRun gen = CliRun.of("generate-completion");
        assertEquals(0, gen.code(), gen.err());
        Path script = Files.writeString(dir.resolve("mergestream.bash"), gen.out());
        StringBuilder array = new StringBuilder();
        for (String w : words) array.append('\'').append(w.replace("'", "'\\''")).append("' ");
        String line = String.join(" ", words);
        // compopt only sets display options, and only inside bash's own completion machinery: a no-op here
        String driver = "source '" + script + "'\ncompopt() { :; }\n"
                + "COMP_WORDS=(" + array + ")\n"
                + "COMP_CWORD=" + (words.length - 1) + "\n"
                + "COMP_LINE='" + line + "'\n"
                + "COMP_POINT=" + line.length() + "\n"
                + "_complete_mergestream mergestream '" + words[words.length - 1] + "' '"
                + (words.length > 1 ? words[words.length - 2] : "") + "'\n"
                + "printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '\n";
        Process p = new ProcessBuilder("bash", "--norc", "--noprofile", "-c", driver).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(1, TimeUnit.MINUTES), "bash did not end");
        assertEquals(0, p.exitValue(), out);
        return out.strip();
    }

    @Test
    void theCommandsStartingWithD() throws Exception {
        assertEquals("dare delta-stats diff", complete("mergestream", "d"));
    }

    @Test
    void kernelValues() throws Exception {
        assertEquals("auto native scalar vector", complete("mergestream", "merge", "--kernel", ""));
    }

    @Test
    void kernelValuesOfEveryCommandThatTakesTheOption() throws Exception {
        for (String command : new String[] {"dare", "delta-stats", "diff", "convert"}) {
            if (Main.commandLine().getSubcommands().get(command).getCommandSpec().findOption("--kernel") == null) continue;
            assertEquals("auto native scalar vector", complete("mergestream", command, "--kernel", ""), command);
        }
        // a prefix narrows them, as Tab does
        assertEquals("scalar", complete("mergestream", "dare", "--kernel", "s"));
    }

    @Test
    void testdataValues() throws Exception {
        assertEquals("bert llama", complete("mergestream", "testdata", "--arch", ""));
        assertEquals("bf16 f16 f32", complete("mergestream", "testdata", "--dtype", ""));
        assertEquals("large sft", complete("mergestream", "testdata", "--deltas", ""));
        assertEquals("f16 f32", complete("mergestream", "testdata", "/tmp/fam", "--dtype", "f"));
    }

    @Test
    void everyValueOfferedIsOneTheCommandTakes() throws Exception {
        // the candidates and the parser are two lists: each word completion offers must parse (a dry check
        // through buildSpec, which reads all three options, writes nothing)
        for (String arch : complete("mergestream", "testdata", "--arch", "").split(" ")) {
            for (String dtype : complete("mergestream", "testdata", "--dtype", "").split(" ")) {
                for (String deltas : complete("mergestream", "testdata", "--deltas", "").split(" ")) {
                    TestdataCommand t = new TestdataCommand();
                    picocli.CommandLine cl = new picocli.CommandLine(t);
                    cl.parseArgs("out", "--arch", arch, "--dtype", dtype, "--deltas", deltas);
                    io.mergestream.testdata.FamilySpec spec = t.buildSpec();
                    assertEquals(arch, spec.architecture().name().toLowerCase(java.util.Locale.ROOT));
                    assertEquals(dtype, spec.dtype().headerName().toLowerCase(java.util.Locale.ROOT));
                    assertEquals(deltas, spec.deltas().name().toLowerCase(java.util.Locale.ROOT));
                }
            }
        }
    }

    @Test
    void optionsOfACommand() throws Exception {
        assertEquals("--threads", complete("mergestream", "diff", "--th"));
    }

    @Test
    void dareStrategyRescaleAndTargetValues() throws Exception {
        assertEquals("magnitude random", complete("mergestream", "dare", "--strategy", ""));
        assertEquals("inverse l1 none", complete("mergestream", "dare", "--rescale", ""));
        assertEquals("delta weights", complete("mergestream", "dare", "--target", ""));
    }

    @Test
    void packAndApplyOfferTheSameWords() throws Exception {
        assertEquals("magnitude random", complete("mergestream", "pack", "--strategy", ""));
        assertEquals("inverse l1 none", complete("mergestream", "pack", "--rescale", ""));
        assertEquals("l1", complete("mergestream", "apply", "--rescale", "l"));
    }

    @Test
    void theOptionsAreTypedAsTheLibrarysEnums() {
        // the value reaches call() as the API's constant, so no command parses the word itself
        CommandLine.ParseResult r = Main.commandLine().parseArgs("dare", "--model", "m", "--density", "0.5", "-o", "o",
                "--strategy", "Magnitude", "--rescale", "l1", "--target", "weights");
        DareCommand dare = (DareCommand) r.subcommand().commandSpec().userObject();
        assertEquals(DareRequest.Strategy.MAGNITUDE, dare.strategy);
        assertEquals(DareRequest.Rescale.L1, dare.rescale);
        assertEquals(DareRequest.Target.WEIGHTS, dare.target);
        assertEquals("must be delta or weights, not 'bias'", assertThrows(CommandLine.TypeConversionException.class,
                () -> new SharedOptions.TargetWords().convert("bias")).getMessage());
    }
}
