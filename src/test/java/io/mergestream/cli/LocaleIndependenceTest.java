package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Names and numbers that land in files do not depend on the default locale: under ar-SA, String.format("%05d")
 * writes Arabic-Indic digits, and a merge once wrote shards named model-٠٠٠٠١-of-٠٠٠٠٣ (the build's
 * forbiddenapis check now refuses such calls; this is the behaviour it protects).
 */
class LocaleIndependenceTest {

    @TempDir
    Path dir;

    @Test
    void shardedMergeUnderArabicLocaleWritesAsciiShardNames() throws Exception {
        Locale arabic = Locale.forLanguageTag("ar-SA");
        // the premise: this JDK does localize digits for ar-SA (else the test would prove nothing)
        assertEquals("٠٠٠٠١", String.format(arabic, "%05d", 1));
        Path recipe = Path.of("testdata", "recipes", "linear.yml").toAbsolutePath();
        Path out = dir.resolve("merged");
        Locale previous = Locale.getDefault();
        Locale.setDefault(arabic);
        int code;
        StringWriter err = new StringWriter();
        try {
            code = Main.run(new PrintWriter(new StringWriter()), new PrintWriter(err, true),
                    "merge", recipe.toString(), "-o", out.toString(), "--out-shard-size", "100KB", "-q");
        } finally {
            Locale.setDefault(previous);
        }
        assertEquals(0, code, err.toString());
        List<String> shards;
        try (Stream<Path> s = Files.list(out)) {
            shards = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        }
        assertTrue(shards.size() >= 3, shards.toString());
        int n = shards.size();
        for (int i = 0; i < n; i++) {
            assertEquals(String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, n), shards.get(i));
            assertTrue(shards.get(i).chars().allMatch(c -> c < 128), shards.get(i));
        }
        String index = Files.readString(out.resolve("model.safetensors.index.json"), StandardCharsets.UTF_8);
        assertTrue(index.chars().allMatch(c -> c < 128), "non-ASCII in the index:\n" + index);
        assertTrue(index.contains("\"model-00001-of-0000" + n + ".safetensors\""), index);
        for (String f : List.of("config.json", "README.md")) {
            String text = Files.readString(out.resolve(f), StandardCharsets.UTF_8);
            assertTrue(text.chars().noneMatch(c -> c >= 0x0660 && c <= 0x0669), "Arabic-Indic digits in " + f);
        }
    }
}
