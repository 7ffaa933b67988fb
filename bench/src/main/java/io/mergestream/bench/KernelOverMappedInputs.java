package io.mergestream.bench;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.MergeEngine;
import io.mergestream.engine.OutputSink;
import io.mergestream.engine.Progress;
import io.mergestream.kernel.Kernels;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.Planner;
import io.mergestream.recipe.Recipe;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * The kernels alone over a recipe's mapped inputs: the engine's own tensor loop (same chunks, threads, page
 * advice on the inputs, per-thread chunk buffers), but the output sink discards every chunk instead of
 * writing it to a file. Its
 * input GB/s is the ceiling the end-to-end merge is compared with (bench/e2e.sh): what is left between the
 * two is the cost of the output file, scheduling and the rest. The first run, with the JIT still cold, is
 * reported apart: each merge is a fresh process and pays it.
 *
 * <pre>java -cp benchmarks.jar io.mergestream.bench.KernelOverMappedInputs RECIPE THREADS KERNEL RUNS</pre>
 */
public final class KernelOverMappedInputs {

    private KernelOverMappedInputs() {}

    public static void main(String[] args) {
        Path recipePath = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        MergeKernel kernel = Kernels.byName(args[2]);
        int runs = Integer.parseInt(args[3]);
        Recipe recipe = Recipe.load(recipePath);
        try (MergePlan plan = Planner.plan(recipe, recipe.seed());
             ChunkRunner runner = new ChunkRunner(threads, MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS)) {
            OutputSink out = OutputSink.discard();
            double[] gbs = new double[runs];
            double cold = 0;
            for (int r = -1; r < runs; r++) { // run -1 warms the JIT and the page cache
                long t0 = System.nanoTime();
                try (Progress quiet = new Progress(System.err, Progress.Mode.QUIET, plan.inputBytes(), plan.jobs().size())) {
                    MergeEngine.writeTensors(plan, out, runner, kernel, quiet);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                if (r >= 0) gbs[r] = plan.inputBytes() / 1e9 / secs;
                else cold = plan.inputBytes() / 1e9 / secs;
            }
            Arrays.sort(gbs);
            double median = runs % 2 == 1 ? gbs[runs / 2] : (gbs[runs / 2 - 1] + gbs[runs / 2]) / 2;
            System.out.printf(Locale.ROOT, "kernel-only: %s kernel, %d threads, %.2f GB input: median %.2f GB/s of input"
                    + " over %d warm runs (the first, cold JIT: %.2f GB/s)%n", kernel.name(), threads,
                    plan.inputBytes() / 1e9, median, runs, cold);
        }
    }
}
