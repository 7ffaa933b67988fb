package io.mergestream.testdata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.cli.Main;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TestdataCommandTest {

    @TempDir
    Path tmp;

    @Test
    void sizeOptionPicksDimensionsAndTheCommandReportsWhatItWrote() {
        Path out = tmp.resolve("fam");
        String printed = runCapturing("testdata", out.toString(), "--size", "2MB", "--vocab", "256", "--fine-tunes", "1",
                "--deltas", "large", "--unrelated-base", "--dtype", "f16", "--threads", "2");
        assertTrue(printed.contains("wrote 2 models"), printed);
        assertTrue(printed.contains(" GB/s, "), printed);
        JsonNode family = Json.read(out.resolve(FamilyGenerator.FAMILY_FILE));
        assertEquals("large", family.get("deltas").asText());
        assertTrue(family.get("unrelated_base").asBoolean());
        assertEquals(0, family.get("hidden_size").asInt() % 64);
        try (Checkpoint c = Checkpoint.open(out.resolve("ft1"))) {
            long bytes = c.tensors().stream().mapToLong(t -> t.info().byteSize()).sum();
            assertTrue(bytes > 1_800_000 && bytes < 2_200_000, "bytes " + bytes);
            assertEquals("F16", c.tensors().iterator().next().info().dtype().name());
        }
    }

    @Test
    void badOptionsExitWithTwoAndWriteNothing() {
        Path out = tmp.resolve("fam");
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("testdata", out.toString(), "--size", "1GB", "--hidden", "64"));
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("testdata", out.toString(), "--arch", "gpt2"));
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("testdata", out.toString(), "--dtype", "i8"));
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("testdata", out.toString(), "--hidden", "30", "--heads", "4"));
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("testdata", out.toString(), "--shard-only", "ft7"));
        assertFalse(Files.exists(out));
    }

    @Test
    void generationReportsEveryTensorAndByteToTheProgressDisplay() throws Exception {
        // testdata's bar (84 s silent for a 2 GB family, once): the generator feeds the Progress the command
        // draws, every tensor started and finished, every byte of every chunk, as a merge does
        FamilySpec s = FamilySpec.llama().withLayers(2).withHidden(32).withIntermediate(48).withVocab(64).withHeads(4)
                .withFineTunes(2);
        java.util.Set<String> started = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.concurrent.atomic.AtomicInteger finished = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicLong chunks = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong maxDone = new java.util.concurrent.atomic.AtomicLong();
        io.mergestream.engine.Progress.Events events = new io.mergestream.engine.Progress.Events() {
            @Override
            public void tensorStarted(String name, int index, int count) {
                started.add(name);
            }

            @Override
            public void chunkDone(String tensor, long done, long total) {
                chunks.incrementAndGet();
                maxDone.accumulateAndGet(done, Math::max);
            }

            @Override
            public void tensorFinished(String name, int index, int count) {
                finished.incrementAndGet();
            }
        };
        Path out = tmp.resolve("fam");
        try (io.mergestream.engine.Progress p = new io.mergestream.engine.Progress(System.err,
                io.mergestream.engine.Progress.Mode.QUIET, 1, 1, events)) {
            new FamilyGenerator(s, 2, 256).generate(out, false, p);
        }
        // the reference: what was written, read back from the files
        java.util.Set<String> written = new java.util.HashSet<>();
        long bytes = 0;
        for (String m : s.modelNames()) {
            try (Checkpoint c = Checkpoint.open(out.resolve(m))) {
                for (var t : c.tensors()) {
                    written.add(m + "/" + t.name());
                    bytes += t.info().byteSize();
                }
            }
        }
        assertEquals(written, started);
        assertEquals(written.size(), finished.get());
        assertEquals(bytes, maxDone.get());
        assertTrue(chunks.get() > written.size(), "chunks " + chunks.get() + " for " + written.size() + " tensors");
    }

    private static String runCapturing(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run(args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
