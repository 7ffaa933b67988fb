package io.mergestream.bench;

import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.MergeEngine;
import io.mergestream.kernel.Consensus;
import io.mergestream.kernel.DareMask;
import io.mergestream.kernel.LinearOp;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.kernel.ScalarKernel;
import io.mergestream.kernel.Sparsifier;
import io.mergestream.kernel.TaskArithmeticOp;
import io.mergestream.kernel.TensorView;
import io.mergestream.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One merge kernel call sequence over a whole off-heap tensor: the engine's {@link ChunkRunner} cuts
 * {@code elements} into the engine's default chunks and runs them on {@code threads} threads, exactly as a
 * merge does for one tensor (the per-call parameter resolution included).
 *
 * <p>How to read the results: the primary score is whole-tensor merges per second. The secondary results,
 * reported by JMH with the same "ops/s" unit, are the counters below: {@code inputBytes} is input bytes per
 * second (base + every model, as stored; divide by 1e9 for GB/s) and {@code elements} is elements per second
 * (1e9 / elements = ns per element). {@link BenchMain} prints both as medians at the end.
 *
 * <p>The default {@link Param} values give the headline case (bf16 dare_ties, 3 models); the full matrix is
 * given on the command line, see bench/README.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 6, time = 1)
@Fork(value = 1, jvmArgsPrepend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Xmx512m"})
public class KernelBenchmark {

    /** task_arithmetic, ties (the map step, with Magnitude sparsifiers), dare_linear, dare_ties, linear. */
    @Param({"dare_ties"})
    public String method;

    /** bf16, f16 or f32, for the base, the models and the output. */
    @Param({"bf16"})
    public String dtype;

    /** Fine-tuned models (linear: models merged, no base). */
    @Param({"3"})
    public int models;

    /** scalar, vector or native; BenchMain drops the ones this JVM cannot load. */
    @Param({"scalar", "vector"})
    public String impl;

    @Param({"1"})
    public int threads;

    /** Elements per tensor: 2 Mi elements are 4 MB per bf16 tensor, beyond L2 (and 20 MB for 3 models in all). */
    @Param({"2097152"})
    public long elements;

    private Arena arena;
    private ChunkRunner runner;
    private ChunkRunner.ChunkTask task;
    private long inputBytes;

    /** Per-iteration totals; JMH divides them by the iteration time. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long inputBytes;
        public long elements;

        @Setup(Level.Iteration)
        public void reset() {
            inputBytes = 0;
            elements = 0;
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        MergeKernel kernel = Implementations.load(impl);
        DType type = switch (dtype) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "f32" -> DType.F32;
            default -> throw new IllegalArgumentException("dtype bf16, f16 or f32, not " + dtype);
        };
        if (models < 1) throw new IllegalArgumentException("models >= 1");
        arena = Arena.ofShared();
        runner = new ChunkRunner(threads, MergeEngine.Options.DEFAULT_CHUNK_ELEMENTS);
        SplittableRandom random = new SplittableRandom(20240601L + models);
        float[] base = new float[(int) elements];
        for (int i = 0; i < base.length; i++) base[i] = (float) (random.nextGaussian() * 0.02);
        TensorView b = tensor(type, base);
        TensorView[] ms = new TensorView[models];
        float[] weights = new float[models];
        float[][] deltas = new float[models][];
        for (int j = 0; j < models; j++) {
            float[] x = new float[base.length];
            float[] d = new float[base.length];
            for (int i = 0; i < x.length; i++) {
                // Laplace deltas of scale 0.0015, as FamilySpec's "sft" deltas: a typical fine-tune.
                double u = random.nextDouble() - 0.5;
                x[i] = base[i] + (float) (-0.0015 * Math.signum(u) * Math.log(1 - 2 * Math.abs(u)));
            }
            ms[j] = tensor(type, x);
            for (int i = 0; i < x.length; i++) d[i] = ms[j].get(i) - b.get(i);
            deltas[j] = d;
            weights[j] = 0.5f / (j + 1);
        }
        TensorView out = new TensorView(arena.allocate(elements * type.byteSize(), 64), type);
        int size = type.byteSize();
        switch (method) {
            case "linear" -> {
                LinearOp op = new LinearOp(weights, true);
                inputBytes = models * elements * size;
                task = (start, count) -> kernel.linear(op, ms, out, start, count);
            }
            case "task_arithmetic", "ties", "dare_linear", "dare_ties" -> {
                Sparsifier[] sparsifiers = new Sparsifier[models];
                for (int j = 0; j < models; j++) {
                    double density = 0.3 + 0.2 * (j % 3);
                    sparsifiers[j] = switch (method) {
                        case "task_arithmetic" -> new Sparsifier.None();
                        case "ties" -> magnitude(deltas[j], density);
                        default -> DareMask.sparsifier(7, j, "model.layers.0.mlp.up_proj.weight", density, true);
                    };
                }
                boolean consensus = method.equals("ties") || method.equals("dare_ties");
                // normalize: ties' default (true); dare_ties as in testdata/recipes/dare_ties.yml (true, the
                // costlier variant: it also sums the agreeing weights); the linear methods' default (false).
                TaskArithmeticOp op = new TaskArithmeticOp(weights, sparsifiers,
                        consensus ? Consensus.WEIGHTED_SUM : Consensus.NONE, consensus, 1f);
                inputBytes = (models + 1) * elements * size;
                task = (start, count) -> kernel.taskArithmetic(op, b, ms, out, start, count);
            }
            default -> throw new IllegalArgumentException("unknown method " + method);
        }
    }

    /** TIES trim to {@code density}: the threshold of the k largest |delta| (ties kept up to the end). */
    private static Sparsifier magnitude(float[] delta, double density) {
        int[] bits = new int[delta.length];
        for (int i = 0; i < bits.length; i++) bits[i] = Float.floatToRawIntBits(delta[i]) & 0x7FFFFFFF;
        Arrays.sort(bits);
        int k = (int) Math.floor(density * bits.length);
        int threshold = k == 0 ? Integer.MAX_VALUE : bits[bits.length - k];
        return new Sparsifier.Magnitude(threshold, delta.length, (float) density, false);
    }

    private TensorView tensor(DType type, float[] values) {
        MemorySegment data = arena.allocate((long) values.length * type.byteSize(), 64);
        TensorView view = new TensorView(data, type);
        for (int i = 0; i < values.length; i++) view.set(i, values[i]);
        return view;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        runner.close();
        arena.close();
    }

    @Benchmark
    public void merge(Counters counters) {
        runner.forEachChunk(elements, task);
        counters.inputBytes += inputBytes;
        counters.elements += elements;
    }
}
