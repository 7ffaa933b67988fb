package io.mergestream.cli;

import io.mergestream.Names;
import io.mergestream.api.RunResult;
import io.mergestream.engine.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The summary a command that writes a model prints on stderr when it is done: what it did, how fast (GB/s,
 * as the progress line), memory, and where the output is with its shards. Parts are joined with ", " into
 * lines of at most {@value #COLUMNS} columns (continuations indented), the output always on a line of its own,
 * so that nothing wraps on a classic terminal however long the method name or thread count.
 */
final class SummaryLine {
    static final int COLUMNS = 80;

    private SummaryLine() {}

    /** {@code head} (e.g. "merged 21 tensors (dare, vector kernel, 2 threads)"), then the run's figures. */
    static String of(String head, RunResult sum, Path out) {
        // "in N s (": bench/e2e.sh reads the merge time from it, and "peak heap N MB"
        List<String> figures = List.of("mergestream: " + head,
                String.format(Locale.ROOT, "read %s in %.2f s (%s)", Bytes.human(sum.bytesRead()), sum.seconds(),
                        Progress.rate(sum.inputBytesPerSecond())),
                "peak RSS " + (sum.peakRssBytes() >> 20) + " MB, peak heap " + (sum.peakHeapBytes() >> 20) + " MB");
        List<String> where = List.of("into " + Names.printable(out) + ":",
                shards(out) + " (" + Bytes.human(sum.bytesWritten()) + ")");
        return wrap(figures, ", ", "") + "\n" + wrap(where, " ", "  ");
    }

    /** {@code model.safetensors}, or {@code 3 shards model-00001-of-00003.safetensors …}. */
    static String shards(Path out) {
        List<String> names;
        try (Stream<Path> s = Files.list(out)) {
            names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            return "(its files cannot be listed: " + io.mergestream.IoErrors.reason(e) + ")";
        }
        if (names.isEmpty()) return "no tensor files";
        if (names.size() == 1) return Names.printable(names.get(0));
        // the first name says how many there are (-of-00003) and how the others are named
        return names.size() + " shards " + Names.printable(names.get(0)) + " …";
    }

    /** Greedy: as many parts per line as fit in {@value #COLUMNS} columns; a part longer than that stands alone. */
    static String wrap(List<String> parts, String separator, String indent) {
        StringBuilder all = new StringBuilder();
        StringBuilder line = new StringBuilder();
        for (String part : parts) {
            if (line.isEmpty()) {
                line.append(indent).append(part);
            } else if (line.length() + separator.length() + part.length() <= COLUMNS) {
                line.append(separator).append(part);
            } else {
                all.append(line).append(separator.strip()).append("\n");
                line.setLength(0);
                line.append("  ").append(part);
            }
        }
        return all.append(line).toString();
    }
}
