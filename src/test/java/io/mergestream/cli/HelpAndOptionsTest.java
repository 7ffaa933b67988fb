package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** Every command's help renders cleanly; the shared options are the same option everywhere. */
class HelpAndOptionsTest {

    /** Every command and subcommand, by its qualified name ("mergestream", "mergestream merge", ...). */
    private static Map<String, CommandLine> commands() {
        Map<String, CommandLine> all = new LinkedHashMap<>();
        List<CommandLine> todo = new ArrayList<>(List.of(Main.commandLine()));
        while (!todo.isEmpty()) {
            CommandLine c = todo.removeFirst();
            all.put(c.getCommandSpec().qualifiedName(), c);
            todo.addAll(c.getSubcommands().values());
        }
        return all;
    }

    @Test
    void everyHelpRendersWithoutAPicocliWarning() {
        // picocli reports a description it cannot format (a lone "0.4%" read as a format specifier) as
        // "[picocli WARN] ..." on System.err, and prints the text unformatted
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        List<String> rendered = new ArrayList<>();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            for (Map.Entry<String, CommandLine> e : commands().entrySet()) {
                String[] path = e.getKey().replaceFirst("^mergestream ?", "").isEmpty() ? new String[0]
                        : e.getKey().replaceFirst("^mergestream ", "").split(" ");
                String[] args = java.util.Arrays.copyOf(path, path.length + 1);
                args[path.length] = "--help";
                CliRun r = CliRun.of(args);
                assertEquals(0, r.code(), e.getKey() + ": " + r.err());
                assertEquals("", r.err(), e.getKey());
                assertTrue(r.out().contains("Usage: " + e.getKey() + " "), e.getKey() + ":\n" + r.out());
                rendered.add(r.out());
            }
        } finally {
            System.setErr(saved);
        }
        assertEquals("", captured.toString(StandardCharsets.UTF_8));
        assertTrue(rendered.size() >= 9, "commands rendered: " + rendered.size());
        for (String help : rendered) {
            // a %n or %s left in a description, or a specifier picocli gave up on
            assertFalse(help.matches("(?s).*%[a-zA-Z].*"), help);
        }
    }

    @Test
    void aDescriptionWithALonePercentIsCaught() {
        // the check above can fail: picocli warns on exactly the kind of text issue 15 found
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            @CommandLine.Command(name = "x", description = "within 0.4% of the true value")
            class X {}
            new CommandLine(new X()).getUsageMessage();
        } finally {
            System.setErr(saved);
        }
        assertTrue(captured.toString(StandardCharsets.UTF_8).contains("WARN"), captured.toString(StandardCharsets.UTF_8));
    }

    @Test
    void sharedOptionsHaveOneHelpTextEverywhere() {
        Map<String, String> seen = new LinkedHashMap<>();
        Map<String, List<String>> where = new LinkedHashMap<>();
        for (Map.Entry<String, CommandLine> e : commands().entrySet()) {
            for (OptionSpec o : e.getValue().getCommandSpec().options()) {
                String name = o.longestName();
                if (List.of("--help", "--version", "--seed").contains(name)) continue;
                String text = String.join(" ", o.description()) + " [" + o.paramLabel() + "]";
                String first = seen.putIfAbsent(name, text);
                // these mean something else per command: dare's --base is optional (--target weights), apply's is the
                // pack's base; pack's --rescale is apply's default rule; pack writes a file, not a model directory
                boolean ownMeaning = List.of("--exclude", "--base", "--rescale", "--strategy").contains(name)
                        || (e.getKey().equals("mergestream pack") && name.equals("--output"));
                if (first != null && !ownMeaning) {
                    assertEquals(first, text, name + " in " + e.getKey() + " differs from its help in " + where.get(name));
                }
                where.computeIfAbsent(name, k -> new ArrayList<>()).add(e.getKey());
            }
        }
        // the commands that stream a model pass all take --threads and -q (delta-stats and diff too)
        for (String c : List.of("merge", "dare", "pack", "apply", "convert", "delta-stats", "diff", "testdata")) {
            assertTrue(where.get("--threads").contains("mergestream " + c), "--threads: " + where.get("--threads"));
            assertTrue(where.get("--quiet").contains("mergestream " + c), "--quiet: " + where.get("--quiet"));
        }
        assertEquals(List.of("mergestream merge", "mergestream dare", "mergestream pack", "mergestream apply"), where.get("--kernel"));
    }

    @Test
    void kernelIsTypedWithCompletionCandidates() {
        OptionSpec kernel = commands().get("mergestream dare").getCommandSpec().findOption("--kernel");
        List<String> candidates = new ArrayList<>();
        kernel.completionCandidates().forEach(candidates::add);
        assertEquals(List.of("auto", "vector", "scalar", "native"), candidates);
        assertEquals(SharedOptions.KernelChoice.class, kernel.type());
        assertTrue(String.join(" ", kernel.description()).contains("native"));
    }

    @Test
    void anOptionWhoseLabelListsItsValuesCompletesThem() {
        // "--arch llama|bert": the label promises those words, so Tab must offer exactly them. Typed on branch api
        // while they move onto the API: dare/pack/apply's --strategy, --rescale, --target, checked here as soon as
        // they carry candidates.
        List<String> pending = List.of("--strategy", "--rescale", "--target");
        List<String> checked = new ArrayList<>();
        for (Map.Entry<String, CommandLine> e : commands().entrySet()) {
            for (OptionSpec o : e.getValue().getCommandSpec().options()) {
                if (!o.paramLabel().matches("[a-z0-9]+(\\|[a-z0-9]+)+")) continue;
                String where = e.getKey() + " " + o.longestName();
                if (o.completionCandidates() == null && pending.contains(o.longestName())) continue;
                assertTrue(o.completionCandidates() != null, where + " has no completion candidates");
                List<String> candidates = new ArrayList<>();
                o.completionCandidates().forEach(candidates::add);
                assertEquals(List.of(o.paramLabel().split("\\|")), candidates, where);
                checked.add(where);
            }
        }
        assertTrue(checked.containsAll(List.of("mergestream testdata --arch", "mergestream testdata --dtype",
                "mergestream testdata --deltas")), "checked: " + checked);
    }

    @Test
    void aBadTestdataChoiceIsOneLineListingTheChoices() {
        assertEquals("mergestream: --arch: expected llama or bert, not 'gpt2'",
                CliRun.of("testdata", "/nonexistent/fam", "--arch", "gpt2").err().strip());
        assertEquals("mergestream: --dtype: expected bf16, f16 or f32, not 'f64'",
                CliRun.of("testdata", "/nonexistent/fam", "--dtype", "f64").err().strip());
        CliRun r = CliRun.of("testdata", "/nonexistent/fam", "--deltas", "huge");
        assertEquals(Main.EXIT_BAD_INPUT, r.code());
        assertEquals("mergestream: --deltas: expected sft or large, not 'huge'", r.err().strip());
    }

    @Test
    void convertersReadKnownValuesAndRefuseOthers() {
        SharedOptions.SeedConverter seed = new SharedOptions.SeedConverter();
        assertEquals(-1L, seed.convert("18446744073709551615"));
        assertEquals(-1L, seed.convert("-1"));
        assertEquals(20231103L, seed.convert("20231103"));
        assertThrows(CommandLine.TypeConversionException.class, () -> seed.convert("18446744073709551616"));
        assertThrows(CommandLine.TypeConversionException.class, () -> seed.convert("seven"));
        SharedOptions.PositiveInt n = new SharedOptions.PositiveInt();
        assertEquals(3, n.convert("3"));
        assertEquals("must be at least 1, not 0",
                assertThrows(CommandLine.TypeConversionException.class, () -> n.convert("0")).getMessage());
        assertEquals(5_000_000_000L, new SharedOptions.SizeConverter().convert("5GB"));
        assertEquals(2L << 30, new SharedOptions.SizeConverter().convert("2GiB"));
        assertEquals("cannot read '5XB' (use e.g. 5GB, 500M, 2GiB or a byte count)",
                assertThrows(CommandLine.TypeConversionException.class,
                        () -> new SharedOptions.SizeConverter().convert("5XB")).getMessage());
    }

    @Test
    void aBadSharedValueIsOneLinePointingAtHelp() {
        CliRun r = CliRun.of("diff", "a", "b", "--threads", "0");
        assertEquals(Main.EXIT_DIFF_TROUBLE, r.code());
        assertEquals("mergestream: Invalid value for option '--threads': must be at least 1, not 0 "
                + "(see 'mergestream diff --help')", r.err().strip());
        CliRun s = CliRun.of("testdata", "x", "--out-shard-size", "lots");
        assertEquals(Main.EXIT_BAD_INPUT, s.code());
        assertTrue(s.err().strip().startsWith("mergestream: Invalid value for option '--out-shard-size': cannot read 'lots'"), s.err());
        assertEquals(1, s.err().strip().lines().count(), s.err());
    }

    @Test
    void ioFailuresSayWhatHappenedInWords() {
        CliRun r = CliRun.of("merge", "testdata/recipes/linear.yml", "-o", "/proc/mergestream-test/x");
        assertEquals(Main.EXIT_IO, r.code());
        assertEquals("mergestream: cannot create /proc/mergestream-test: no such file or directory", r.err().strip());
        // once java.nio.file.NoSuchFileException: /x.yml
        CliRun missing = CliRun.of("merge", "/nonexistent-mergestream-test/x.yml", "-o", "/nonexistent-mergestream-test/out");
        assertEquals(Main.EXIT_BAD_INPUT, missing.code());
        assertEquals("mergestream: /nonexistent-mergestream-test/x.yml: cannot read the recipe: no such file", missing.err().strip());
    }
}
