package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * README.md's table of commands against the commands themselves: a row per command, naming every option it
 * takes (or a few and "..."), with the values of an option that has a fixed set (the table once lacked the native kernel, and
 * --threads and -q in the delta-stats and diff rows).
 */
class ReadmeCommandTableTest {

    /** The first cell of each row of the table under "## Commands", by command name, unescaped. */
    private static Map<String, String> rows() throws Exception {
        Map<String, String> rows = new LinkedHashMap<>();
        boolean inSection = false;
        for (String l : Files.readAllLines(Path.of("README.md"))) {
            if (l.startsWith("## ")) inSection = l.equals("## Commands");
            if (!inSection || !l.startsWith("| `mergestream ")) continue;
            String cell = l.substring(2, l.indexOf("` |") + 1).replace("\\|", "|");
            rows.put(cell.substring("`mergestream ".length()).split("[ `]")[0], cell);
        }
        return rows;
    }

    @Test
    void everyCommandHasARowNamingEveryOptionAndItsValues() throws Exception {
        Map<String, String> rows = rows();
        CommandLine main = Main.commandLine();
        List<String> commands = new ArrayList<>(main.getSubcommands().keySet());
        commands.remove("help");
        assertEquals(commands, new ArrayList<>(rows.keySet()), "commands vs the README's rows");
        List<String> wrong = new ArrayList<>();
        for (String c : commands) {
            String row = rows.get(c);
            for (OptionSpec o : main.getSubcommands().get(c).getCommandSpec().options()) {
                if (o.hidden() || o.usageHelp() || o.versionHelp()) continue;
                // the row names the option by one of its names, as a word of its own
                boolean named = false;
                for (String n : o.names()) named |= row.matches(".*[\\[ (`|]" + java.util.regex.Pattern.quote(n) + "[\\] )`=.].*");
                // a row ending in "..." (testdata's twenty options) shows a few and leaves the rest to --help
                if (!named && row.endsWith(" ...`")) continue;
                if (!named) {
                    wrong.add(c + " row lacks " + o.longestName());
                    continue;
                }
                if (o.completionCandidates() != null && o.arity().max() > 0) {
                    List<String> values = new ArrayList<>();
                    o.completionCandidates().forEach(values::add);
                    java.util.Collections.sort(values);
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(o.longestName())
                            + "[ =]([a-z0-9|]+)").matcher(row);
                    List<String> shown = new ArrayList<>(m.find() ? List.of(m.group(1).split("\\|")) : List.of());
                    java.util.Collections.sort(shown);
                    if (!values.equals(shown)) wrong.add(c + " row shows " + shown + " for " + o.longestName() + ", not " + values);
                }
            }
        }
        assertEquals(List.of(), wrong, "README.md's commands table");
    }
}
