package io.mergestream.testdata;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.Json;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.OutputDirectory;
import io.mergestream.format.OutputLayout;
import io.mergestream.format.safetensors.ShardedWriter;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Elements;
import io.mergestream.testdata.ModelLayout.TensorSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a deterministic homologous model family: {@code OUT/base} and {@code OUT/ft1 ... OUT/ftK}, each a
 * Hugging Face model directory (safetensors, sharded with an index when larger than the shard size,
 * config.json, generation_config.json for Llama, tokenizer stand-ins), plus {@code OUT/family.json}
 * describing the spec. The whole family appears at once (an {@link OutputDirectory}), and so does each model
 * inside it: an interrupted run leaves nothing that looks finished.
 *
 * <p>Values (before rounding to the dtype with round-to-nearest-even), for element i of tensor t:
 * <ul>
 *   <li>base: {@code mean(t) + std(t) * z(seed, 0, t, i)}, z approximately N(0,1) (Irwin-Hall of 4
 *       uniforms); weights, embeddings and biases N(0, 0.02), norm scales N(1, 0.02);</li>
 *   <li>fine-tune ftK: {@code origin(t, i) + delta(seed, K, t, i)}, where origin is the base value above (or,
 *       with {@code unrelatedBase}, the same formula on another stream) and delta follows
 *       {@link FamilySpec.DeltaKind};</li>
 *   <li>tensors only a fine-tune has (BERT's classifier): N(0, 0.02) from the fine-tune's own stream.</li>
 * </ul>
 * Every value is a function of (seed, model, tensor name, element index) alone ({@link Values}), so the
 * files are byte-identical whatever the thread count. Data is generated straight into the mapped output in
 * chunks of {@link #CHUNK_BYTES}, by the engine's ChunkRunner: no tensor is ever held on the heap.
 */
public final class FamilyGenerator {

    public static final int CHUNK_BYTES = 1 << 20;
    public static final String FAMILY_FILE = "family.json";

    private final FamilySpec spec;
    private final int threads;
    private final int chunkBytes;

    public FamilyGenerator(FamilySpec spec) {
        this(spec, Runtime.getRuntime().availableProcessors());
    }

    /** {@code spec} is {@linkplain FamilySpec#resolve() resolved}; {@code threads} is the pool size (>= 1). */
    public FamilyGenerator(FamilySpec spec, int threads) {
        this(spec, threads, CHUNK_BYTES);
    }

    /** With another chunk size, for tests: the output must not depend on it. */
    FamilyGenerator(FamilySpec spec, int threads, int chunkBytes) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
        if (chunkBytes < 4) throw new IllegalArgumentException("chunkBytes must be >= 4");
        this.spec = spec.resolve();
        this.threads = threads;
        this.chunkBytes = chunkBytes;
    }

    /** The resolved spec (concrete dimensions). */
    public FamilySpec spec() {
        return spec;
    }

    public int threads() {
        return threads;
    }

    /** {@code base, ft1, ..., ftK}. */
    public List<String> modelNames() {
        return spec.modelNames();
    }

    /** The tensors of {@code model} in checkpoint order. */
    public List<OutputLayout.Entry> tensors(String model) {
        return ModelLayout.tensors(spec, modelIndex(model)).stream()
                .map(t -> new OutputLayout.Entry(t.name(), spec.dtype(), t.shape())).toList();
    }

    /** Where {@code model}'s tensors go: shards of at most the shard size if the model is one that shards. */
    public OutputLayout layout(String model) {
        return OutputLayout.plan(tensors(model), spec.shards(model) ? spec.shardBytes() : Long.MAX_VALUE);
    }

    /** The exact value of element {@code index} of {@code tensor} in {@code model}, before rounding to the dtype. */
    public float value(String model, String tensor, long index) {
        int k = modelIndex(model);
        for (TensorSpec t : ModelLayout.tensors(spec, k)) {
            if (t.name().equals(tensor)) return Source.of(spec, k, t).value(index);
        }
        throw new IllegalArgumentException(model + " has no tensor " + tensor);
    }

    private int modelIndex(String model) {
        int k = spec.modelNames().indexOf(model);
        if (k < 0) throw new IllegalArgumentException("no model " + model + " in this family");
        return k;
    }

    /** What one model became. */
    public record ModelResult(String name, Path directory, int tensors, int shards, long bytes) {}

    /** What {@link #generate} wrote: the models, their tensor bytes in total, and the time it took. */
    public record Result(Path directory, List<ModelResult> models, long bytes, long nanos) {
        public int tensors() {
            return models.stream().mapToInt(ModelResult::tensors).sum();
        }

        public double seconds() {
            return nanos / 1e9;
        }
    }

    /**
     * Writes the family into {@code out}, which must not exist or be empty unless {@code force} (then it is
     * replaced once the new family is complete).
     */
    public Result generate(Path out, boolean force) {
        try (Progress none = new Progress(System.err, Progress.Mode.QUIET, 1, 1)) {
            return generate(out, force, none);
        }
    }

    /** As {@link #generate(Path, boolean)}, reporting every chunk written to {@code progress}. */
    public Result generate(Path out, boolean force, Progress progress) {
        long start = System.nanoTime();
        List<ModelResult> models = new ArrayList<>();
        long bytes = 0;
        try (OutputDirectory family = OutputDirectory.prepare(out, force, List.of());
                ChunkRunner runner = new ChunkRunner(threads, chunkBytes / spec.dtype().byteSize())) {
            for (String model : modelNames()) {
                ModelResult r = writeModel(family.staging(), model, runner, progress);
                models.add(new ModelResult(r.name(), family.target().resolve(model), r.tensors(), r.shards(), r.bytes()));
                bytes += r.bytes();
            }
            Json.writePretty(family.staging().resolve(FAMILY_FILE), describe());
            family.commit();
            return new Result(family.target(), List.copyOf(models), bytes, System.nanoTime() - start);
        }
    }

    private ModelResult writeModel(Path familyDir, String model, ChunkRunner runner, Progress progress) {
        int k = modelIndex(model);
        OutputLayout layout = layout(model);
        List<TensorSpec> specs = ModelLayout.tensors(spec, k);
        try (OutputDirectory dir = OutputDirectory.prepare(familyDir.resolve(model), false, List.of())) {
            try (ShardedWriter writer = ShardedWriter.create(dir.staging(), layout)) {
                fill(writer, k, specs, runner, progress);
                writer.finish();
            }
            HfFiles.write(dir.staging(), spec, k);
            dir.commit();
            return new ModelResult(model, dir.target(), specs.size(), layout.shards().size(), layout.totalBytes());
        }
    }

    /**
     * Fills every tensor chunk by chunk on the runner's threads: each chunk is generated into the worker's
     * buffer and written at its place in the shard (positional writes, as a merge writes: a full disk is an
     * error, not a fault), so memory stays flat.
     */
    private void fill(ShardedWriter writer, int k, List<TensorSpec> specs, ChunkRunner runner, Progress progress) {
        DType dtype = spec.dtype();
        int size = dtype.byteSize();
        try (Arena arena = Arena.ofShared()) {
            java.util.concurrent.ConcurrentLinkedQueue<MemorySegment> free = new java.util.concurrent.ConcurrentLinkedQueue<>();
            for (TensorSpec t : specs) {
                Source src = Source.of(spec, k, t);
                progress.startTensor(spec.modelNames().get(k) + "/" + t.name());
                List<MemorySegment> used = runner.reduce(t.elements(), () -> {
                    MemorySegment b = free.poll();
                    return b != null ? b : arena.allocate((long) runner.chunkElements() * size, 64);
                }, (buf, from, count) -> {
                    MemorySegment chunk = buf.asSlice(0, (long) count * size);
                    write(src, dtype, chunk, from, count);
                    writer.write(t.name(), from * size, chunk);
                    progress.add((long) count * size);
                });
                progress.finishTensor();
                free.addAll(used);
            }
        }
    }

    /** Elements [from, from + count) of the source into {@code seg}, element from at byte 0. */
    private static void write(Source s, DType dtype, MemorySegment seg, long from, int count) {
        for (int o = 0; o < count; o++) Elements.encode(seg, dtype, o, s.value(from + o));
    }

    /** The value source of one tensor of one model: keys and distribution parameters, fixed per tensor. */
    private record Source(long originKey, float mean, float std, long deltaKey, int delta) {
        static final int NONE = 0;
        static final int SFT = 1;
        static final int LARGE = 2;

        static Source of(FamilySpec spec, int k, TensorSpec t) {
            ModelLayout.Init init = t.init();
            if (k == 0) return new Source(Values.key(spec.seed(), 0, t.name()), init.mean, init.std, 0, NONE);
            if (t.fresh()) return new Source(Values.key(spec.seed(), k, t.name()), init.mean, init.std, 0, NONE);
            long origin = Values.key(spec.seed(), spec.unrelatedBase() ? Values.UNRELATED_ORIGIN : 0, t.name());
            int kind = spec.deltas() == FamilySpec.DeltaKind.SFT ? SFT : LARGE;
            return new Source(origin, init.mean, init.std, Values.key(spec.seed(), k, t.name()), kind);
        }

        float value(long i) {
            float v = mean + std * Values.normal(Values.draw(originKey, i));
            return switch (delta) {
                case SFT -> v + Values.laplace(Values.draw(deltaKey, i), FamilySpec.SFT_LAPLACE_SCALE);
                case LARGE -> v + (float) FamilySpec.LARGE_SIGMA * Values.normal(Values.draw(deltaKey, i));
                default -> v;
            };
        }
    }

    /** {@code family.json}: the resolved spec and the models, so that tests and benchmarks need not guess. */
    private ObjectNode describe() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("generator", "mergestream testdata");
        root.put("architecture", spec.architecture().name().toLowerCase(java.util.Locale.ROOT));
        root.put("seed", spec.seed());
        root.put("dtype", spec.dtype().torchName());
        root.put("deltas", spec.deltas().name().toLowerCase(java.util.Locale.ROOT));
        root.put("unrelated_base", spec.unrelatedBase());
        root.put("num_hidden_layers", spec.layers());
        root.put("hidden_size", spec.hidden());
        root.put("intermediate_size", spec.intermediate());
        root.put("vocab_size", spec.vocab());
        root.put("num_attention_heads", spec.heads());
        root.put("num_key_value_heads", spec.kvHeads());
        root.put("max_position_embeddings", spec.positions());
        root.put("shard_bytes", spec.shardBytes());
        ArrayNode models = root.putArray("models");
        for (String m : modelNames()) {
            ObjectNode n = models.addObject();
            n.put("name", m);
            n.put("role", m.equals("base") ? "base" : "fine-tune");
            OutputLayout l = layout(m);
            n.put("shards", l.shards().size());
            n.put("total_size", l.totalBytes());
            if (spec.architecture() == FamilySpec.Architecture.BERT && !m.equals("base")) {
                n.put("num_labels", spec.labelsOf(modelIndex(m)));
            }
        }
        return root;
    }
}
