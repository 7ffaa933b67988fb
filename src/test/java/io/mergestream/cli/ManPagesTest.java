package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * The man pages {@code mvn -Pman-pages package} builds, generated here as that profile does (picocli-codegen's
 * ManPageGenerator on the class io.mergestream.cli.Main, AsciiDoc that asciidoctor then turns into troff): one
 * page per command and subcommand, each naming every option and parameter its command has.
 */
class ManPagesTest {

    @TempDir
    Path dir;

    /** Every command of the tree as the profile's generator builds it from the class. */
    private static List<CommandSpec> commandTree() {
        List<CommandSpec> all = new ArrayList<>();
        List<CommandLine> todo = new ArrayList<>(List.of(new CommandLine(Main.class)));
        while (!todo.isEmpty()) {
            CommandLine c = todo.removeFirst();
            all.add(c.getCommandSpec());
            todo.addAll(c.getSubcommands().values());
        }
        return all;
    }

    @Test
    void onePagePerCommandNamingEveryOptionAndParameter() throws Exception {
        int code = ManPageGenerator.generateManPage(dir.toFile(), null, new boolean[0], true,
                new CommandLine(Main.class).getCommandSpec());
        assertEquals(0, code);
        List<CommandSpec> commands = commandTree();
        TreeSet<String> expected = new TreeSet<>();
        for (CommandSpec c : commands) expected.add(c.qualifiedName("-") + ".adoc");
        TreeSet<String> written = new TreeSet<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.forEach(f -> written.add(f.getFileName().toString()));
        }
        assertEquals(expected, written);
        assertTrue(expected.containsAll(List.of("mergestream.adoc", "mergestream-merge.adoc", "mergestream-testdata.adoc",
                "mergestream-delta-stats.adoc", "mergestream-generate-completion.adoc")), expected.toString());

        int options = 0;
        for (CommandSpec c : commands) {
            String page = Files.readString(dir.resolve(c.qualifiedName("-") + ".adoc"));
            // the page's title line names the command as man(1) finds it
            assertTrue(page.contains("= " + c.qualifiedName("-") + "(1)"), c.qualifiedName() + ":\n" + page);
            // the OPTIONS section, not the synopsis, which names them too
            int from = page.indexOf("\n== Options\n");
            String section = from < 0 ? "" : page.substring(from, page.indexOf("// end::picocli-generated-man-section-options[]", from));
            for (OptionSpec o : c.options()) {
                if (o.hidden()) continue;
                for (String name : o.names()) {
                    // AsciiDoc marks option names bold: *--threads*
                    assertTrue(section.contains("*" + name + "*"), c.qualifiedName() + "'s page lacks " + name + ":\n" + page);
                }
                String description = String.join(" ", o.description());
                if (!description.isBlank() && !description.contains("${")) {
                    String start = description.substring(0, Math.min(30, description.length()));
                    assertTrue(section.contains(start), c.qualifiedName() + "'s page lacks the text of " + o.longestName()
                            + " (" + start + "):\n" + page);
                }
                options++;
            }
            for (PositionalParamSpec p : c.positionalParameters()) {
                if (p.hidden()) continue;
                assertTrue(page.contains(p.paramLabel()), c.qualifiedName() + "'s page lacks " + p.paramLabel() + ":\n" + page);
            }
        }
        // merge alone has a dozen: a tree read wrongly (no options at all) would pass the loop above
        assertTrue(options > 80, "options on the pages: " + options);
    }
}
