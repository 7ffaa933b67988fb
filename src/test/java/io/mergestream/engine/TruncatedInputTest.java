package io.mergestream.engine;

import io.mergestream.parallel.ChunkRunner;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.analysis.DeltaStats;
import io.mergestream.analysis.ModelDiff;
import io.mergestream.cli.Version;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.kernel.Kernels;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.Planner;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An input shortened after it was mapped: reading its lost pages faults (SIGBUS), and the merge, delta-stats
 * and diff each end with one error naming that file, the merge's staging directory removed. In this JVM the
 * kernels are mostly not C2-compiled yet: FaultInjectionTest covers that through the CLI on a large merge.
 */
class TruncatedInputTest {

    private static final long[] SHAPE = {64, 1024}; // 128 KB per bf16 tensor: many pages to lose

    private static Path model(Path dir, float offset) {
        TestModels.Model m = new TestModels.Model();
        for (int t = 0; t < 4; t++) {
            float[] v = new float[64 * 1024];
            for (int i = 0; i < v.length; i++) v[i] = 0.001f * ((i * 31 + t) % 97) + offset;
            m.put("layer" + t + ".weight", SHAPE, v);
        }
        return TestModels.write(dir, DType.BF16, m);
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    @Test
    void aMergeNamesTheTruncatedInputAndRemovesItsStaging(@TempDir Path tmp) throws IOException {
        Path base = model(tmp.resolve("base"), 0f);
        Path ft = model(tmp.resolve("ft"), 0.01f);
        Path recipe = MergeRuns.recipe(tmp, "dt", """
                merge_method: dare_ties
                base_model: BASE
                models:
                  - model: FT
                    parameters: {weight: 1.0, density: 0.5}
                dtype: bfloat16
                """, Map.of("BASE", base, "FT", ft));
        Path out = tmp.resolve("out");
        Path shard = ft.resolve("model.safetensors");
        try (MergePlan plan = Planner.plan(Recipe.load(recipe), 0)) {
            truncate(shard, 4096); // the header survives; every tensor's pages are gone
            MergeEngine.Options o = new MergeEngine.Options(2, 4096, Kernels.best(), Long.MAX_VALUE,
                    Progress.Mode.QUIET, new PrintStream(PrintStream.nullOutputStream()));
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> MergeEngine.run(plan, out, false, o, new ModelCard(Version.current())));
            assertTrue(e.getMessage().startsWith(shard + ": truncated while being read (4096 bytes, "), e.getMessage());
        }
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(0, s.filter(p -> p.getFileName().toString().startsWith(".out.partial")).count(),
                    "the staging directory was left behind");
        }
    }

    @Test
    void deltaStatsAndDiffNameTheTruncatedInput(@TempDir Path tmp) throws IOException {
        Path base = model(tmp.resolve("base"), 0f);
        Path ft = model(tmp.resolve("ft"), 0.01f);
        Path shard = ft.resolve("model.safetensors");
        try (Checkpoint b = Checkpoint.open(base); Checkpoint m = Checkpoint.open(ft);
             ChunkRunner runner = new ChunkRunner(2, DeltaStats.DEFAULT_BLOCK);
             Progress quiet = new Progress(System.err, Progress.Mode.QUIET, 1, 1)) {
            truncate(shard, 4096);
            UncheckedIOException stats = assertThrows(UncheckedIOException.class,
                    () -> DeltaStats.compute(b, m, runner, DeltaStats.DEFAULT_BLOCK, quiet));
            assertTrue(stats.getMessage().startsWith(shard + ": truncated while being read"), stats.getMessage());
            UncheckedIOException diff = assertThrows(UncheckedIOException.class,
                    () -> ModelDiff.compute(b, m, 0, runner, DeltaStats.DEFAULT_BLOCK, quiet));
            assertTrue(diff.getMessage().startsWith(shard + ": truncated while being read"), diff.getMessage());
        }
    }
}
