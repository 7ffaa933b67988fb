package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.api.RunResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The summary after a run: GB/s, the output and its shards, and nothing wider than 80 columns. */
class SummaryLineTest {
    @TempDir
    Path dir;

    @Test
    void oneFileOrTheFirstAndLastShard() throws IOException {
        Path one = Files.createDirectories(dir.resolve("one"));
        Files.writeString(one.resolve("model.safetensors"), "");
        Files.writeString(one.resolve("config.json"), "");
        assertEquals("model.safetensors", SummaryLine.shards(one));
        Path three = Files.createDirectories(dir.resolve("three"));
        for (int i = 3; i >= 1; i--) Files.writeString(three.resolve("model-0000" + i + "-of-00003.safetensors"), "");
        Files.writeString(three.resolve("model.safetensors.index.json"), "");
        assertEquals("3 shards model-00001-of-00003.safetensors …", SummaryLine.shards(three));
    }

    @Test
    void aSummaryInGigabytesPerSecondWithinEightyColumns() throws IOException {
        Path out = Files.createDirectories(dir.resolve("merged"));
        for (int i = 1; i <= 3; i++) Files.writeString(out.resolve("model-0000" + i + "-of-00003.safetensors"), "");
        // 5.9 GB read in 3.7 s: 1.59 GB/s
        RunResult sum = new RunResult("breadcrumbs_ties", 291, 5_900_000_000L, 1_500_000_000L, 3.7, "vector",
                207L << 20, 42L << 20);
        String s = SummaryLine.of("merged 291 tensors (breadcrumbs_ties, vector kernel, 16 threads)", sum, out);
        assertEquals(String.join("\n",
                "mergestream: merged 291 tensors (breadcrumbs_ties, vector kernel, 16 threads),",
                "  read 5.90 GB in 3.70 s (1.59 GB/s), peak RSS 207 MB, peak heap 42 MB",
                "  into " + out + ":",
                "  3 shards model-00001-of-00003.safetensors … (1.50 GB)"), s);
        for (String line : s.split("\n")) assertTrue(line.length() <= 80, line);
    }

    @Test
    void partsJoinWhileTheyFit() {
        assertEquals("a, b", SummaryLine.wrap(List.of("a", "b"), ", ", ""));
        String seventy = "x".repeat(70);
        assertEquals(seventy + ",\n  " + "y".repeat(10), SummaryLine.wrap(List.of(seventy, "y".repeat(10)), ", ", ""));
        assertEquals(seventy + ", " + "y".repeat(8), SummaryLine.wrap(List.of(seventy, "y".repeat(8)), ", ", ""));
    }
}
