package io.mergestream.format.peft;

import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.FormatException;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Elements;
import io.mergestream.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A PEFT LoRA adapter applied to its base, as the fine-tuned model it stands for: every tensor of the base, where
 * the adapter targets a module its {@code weight} is {@code W + s·B·A} ({@link LoraTensor}, computed chunk by chunk,
 * never whole), a {@code lora_B.bias} adds {@code s·bias} to the base's bias, and the tensors the adapter saves
 * whole ({@code modules_to_save}, and the biases {@code bias: all / lora_only} trains) replace the base's.
 *
 * <p>Adapter layout (what {@code save_pretrained} writes): {@code adapter_config.json} ({@link AdapterConfig}) and
 * {@code adapter_model.safetensors}, or {@code adapter_model.bin} opened through {@link Checkpoint#open} (the PyTorch
 * reader), with {@code base_model.model.M.lora_A.weight} [r, in], {@code base_model.model.M.lora_B.weight} [out, r]
 * for each target module M (embeddings: {@code M.lora_embedding_A} [r, vocab], {@code M.lora_embedding_B}
 * [dim, r]); saved tensors are {@code base_model.model.NAME}, where NAME may carry PEFT's {@code modules_to_save} or
 * {@code base_layer} segment.
 */
public final class LoraModel implements InputModel {

    static final String PREFIX = "base_model.model.";
    static final String CONFIG = "adapter_config.json";

    private final Path dir;
    private final InputModel base;
    private final Checkpoint weights;
    private final Map<String, TensorSource> tensors;

    private LoraModel(Path dir, InputModel base, Checkpoint weights, Map<String, TensorSource> tensors) {
        this.dir = dir;
        this.base = base;
        this.weights = weights;
        this.tensors = tensors;
    }

    /** True for a directory holding {@code adapter_config.json}. */
    public static boolean isAdapter(Path dir) {
        return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve(CONFIG));
    }

    /** The adapter's {@code base_model_name_or_path}, if it names one. */
    public static Optional<String> declaredBase(Path dir) {
        return AdapterConfig.read(dir.resolve(CONFIG)).baseModel();
    }

    /**
     * The fine-tune the adapter in {@code dir} makes of {@code base}; {@code where} names it in errors. Every mismatch
     * between adapter and base (a module the base lacks, shapes, ranks) is a one-line error here.
     */
    /** The adapter's own tensor file(s). */
    public Checkpoint weights() {
        return weights;
    }

    /** The model the adapter is applied to (read by every tensor the adapter targets). */
    public InputModel base() {
        return base;
    }

    public static LoraModel open(Path dir, InputModel base, String where) {
        AdapterConfig config = AdapterConfig.read(dir.resolve(CONFIG));
        Path file = dir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(file)) file = dir.resolve("adapter_model.bin");
        if (!Files.isRegularFile(file)) {
            throw new FormatException(dir, "is a LoRA adapter without adapter_model.safetensors or adapter_model.bin");
        }
        Checkpoint weights;
        try {
            weights = Checkpoint.open(file);
        } catch (FormatException e) {
            if (!file.getFileName().toString().endsWith(".bin")) throw e;
            // .bin adapters go through the checkpoint reader like any PyTorch checkpoint; say what failed
            throw new FormatException(file, "cannot be read as a PyTorch checkpoint (" + e.getMessage()
                    + "); save the adapter as adapter_model.safetensors");
        }
        try {
            return new LoraModel(dir, base, weights, build(config, file, base, weights, where));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private record Pair(TensorSource a, TensorSource b, boolean embedding) {}

    private static Map<String, TensorSource> build(AdapterConfig config, Path file, InputModel base, Checkpoint weights,
                                                   String where) {
        Map<String, TensorSource[]> pairs = new LinkedHashMap<>(); // module -> {A, B, embedding? A : null}
        Map<String, Boolean> embedding = new LinkedHashMap<>();
        Map<String, TensorSource> loraBias = new LinkedHashMap<>();
        Map<String, TensorSource> whole = new LinkedHashMap<>();
        for (TensorSource t : weights.tensors()) {
            String key = t.name();
            if (!key.startsWith(PREFIX)) {
                throw new FormatException(file, key, "is not a PEFT LoRA tensor (names start with '" + PREFIX + "')");
            }
            String name = key.substring(PREFIX.length());
            if (name.contains("lora_magnitude_vector")) {
                throw new FormatException(file, key, "is a DoRA magnitude: DoRA adapters are not supported");
            }
            String module;
            int which;
            boolean emb = false;
            if (name.endsWith(".lora_A.weight")) {
                module = strip(name, ".lora_A.weight");
                which = 0;
            } else if (name.endsWith(".lora_B.weight")) {
                module = strip(name, ".lora_B.weight");
                which = 1;
            } else if (name.endsWith(".lora_embedding_A")) {
                module = strip(name, ".lora_embedding_A");
                which = 0;
                emb = true;
            } else if (name.endsWith(".lora_embedding_B")) {
                module = strip(name, ".lora_embedding_B");
                which = 1;
                emb = true;
            } else if (name.endsWith(".lora_B.bias")) {
                loraBias.put(strip(name, ".lora_B.bias"), t);
                continue;
            } else if (name.contains("lora_")) {
                throw new FormatException(file, key, "is a LoRA tensor mergestream does not know");
            } else {
                whole.put(name.replace(".modules_to_save.", ".").replace(".base_layer.", "."), t);
                continue;
            }
            if (!config.targets(module)) {
                throw new FormatException(file, key, "adapts module '" + module + "', which target_modules "
                        + config.describeTargets() + " in " + CONFIG + " does not name");
            }
            pairs.computeIfAbsent(module, m -> new TensorSource[2])[which] = t;
            embedding.merge(module, emb, (x, y) -> x || y);
        }
        Map<String, TensorSource> computed = new LinkedHashMap<>();
        RowProduct product = RowProduct.best();
        for (Map.Entry<String, TensorSource[]> e : pairs.entrySet()) {
            String module = e.getKey();
            TensorSource a = e.getValue()[0], b = e.getValue()[1];
            if (a == null || b == null) {
                throw new FormatException(file, PREFIX + module, "has lora_" + (a == null ? "B" : "A")
                        + " but not lora_" + (a == null ? "A" : "B"));
            }
            String target = module + ".weight";
            TensorSource w = base.tensor(target);
            if (w == null) {
                throw new FormatException(file, PREFIX + module, where + ": the base has no tensor '" + target
                        + "' for this adapter module (is it the adapter's base?)");
            }
            boolean transposed = embedding.get(module) || config.fanInFanOut();
            computed.put(target, lora(config, file, module, w, a, b, transposed, product));
        }
        for (Map.Entry<String, TensorSource> e : loraBias.entrySet()) {
            String target = e.getKey() + ".bias";
            TensorSource bias = base.tensor(target);
            if (bias == null || !bias.info().sameShape(e.getValue().info().shape())) {
                throw new FormatException(file, PREFIX + e.getKey() + ".lora_B.bias", where + ": the base has no bias '"
                        + target + "' of shape " + e.getValue().info().shapeString() + " to add it to");
            }
            computed.put(target, new ScaledSum(bias, e.getValue(), config.scaleOf(e.getKey())));
        }
        for (Map.Entry<String, TensorSource> e : whole.entrySet()) {
            TensorSource w = base.tensor(e.getKey());
            if (computed.containsKey(e.getKey())) {
                throw new FormatException(file, PREFIX + e.getKey(), "is both saved whole and adapted by LoRA");
            }
            if (w != null && !w.info().sameShape(e.getValue().info().shape())) {
                throw new FormatException(file, PREFIX + e.getKey(), "has shape " + e.getValue().info().shapeString()
                        + " but " + w.info().shapeString() + " in the base");
            }
            computed.put(e.getKey(), new Renamed(e.getKey(), e.getValue()));
        }
        Map<String, TensorSource> all = new LinkedHashMap<>();
        for (TensorSource t : base.tensors()) all.put(t.name(), computed.getOrDefault(t.name(), t));
        for (Map.Entry<String, TensorSource> e : computed.entrySet()) all.putIfAbsent(e.getKey(), e.getValue());
        return all;
    }

    private static String strip(String name, String suffix) {
        return name.substring(0, name.length() - suffix.length());
    }

    private static LoraTensor lora(AdapterConfig config, Path file, String module, TensorSource w, TensorSource a,
                                   TensorSource b, boolean transposed, RowProduct product) {
        TensorInfo wi = w.info(), ai = a.info(), bi = b.info();
        String at = PREFIX + module;
        if (!wi.dtype().isMergeable()) {
            throw new FormatException(file, at, "adapts '" + wi.name() + "', which is " + wi.dtype()
                    + " in the base: LoRA is applied to F32, F16 and BF16 weights only");
        }
        if (!ai.dtype().isMergeable() || !bi.dtype().isMergeable()) {
            throw new FormatException(file, at, "lora_A/lora_B are " + ai.dtype() + "/" + bi.dtype() + " (F32, BF16 or F16 expected)");
        }
        if (wi.rank() != 2 || ai.rank() != 2 || bi.rank() != 2) {
            throw new FormatException(file, at, "LoRA needs 2-D weights (base " + wi.shapeString() + ", A "
                    + ai.shapeString() + ", B " + bi.shapeString() + ")");
        }
        long r = ai.dim(0);
        long in = transposed ? wi.dim(0) : wi.dim(1);
        long out = transposed ? wi.dim(1) : wi.dim(0);
        if (bi.dim(1) != r || ai.dim(1) != in || bi.dim(0) != out) {
            throw new FormatException(file, at, "lora_A " + ai.shapeString() + " and lora_B " + bi.shapeString()
                    + " do not fit the base's '" + wi.name() + "' " + wi.shapeString()
                    + (transposed ? " (stored [in, out]: fan_in_fan_out or an embedding)" : " ([out, in])"));
        }
        if (r != config.rankOf(module)) {
            throw new FormatException(file, at, "has rank " + r + " but " + CONFIG + " gives it r = " + config.rankOf(module)
                    + " (r or rank_pattern)");
        }
        return new LoraTensor(w, a, b, config.scaleOf(module), transposed, product);
    }

    /** A tensor saved whole by the adapter, under the base model's name. */
    private record Renamed(String name, TensorSource stored) implements TensorSource {
        @Override
        public TensorInfo info() {
            TensorInfo s = stored.info();
            return new TensorInfo(name, s.dtype(), s.shape(), s.begin(), s.end());
        }

        @Override
        public long bytesRead() {
            return stored.bytesRead();
        }

        @Override
        public MemorySegment mapped() {
            return stored.mapped();
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            stored.fill(start, count, dst);
        }

        @Override
        public void doneReading(boolean evict) {
            stored.doneReading(evict);
        }
    }

    /** {@code x + s·y} element by element in f32, rounded once to x's dtype: a bias plus its LoRA bias. */
    private record ScaledSum(TensorSource x, TensorSource y, float s) implements TensorSource {
        @Override
        public TensorInfo info() {
            TensorInfo i = x.info();
            return new TensorInfo(i.name(), i.dtype(), i.shape(), 0, i.byteSize());
        }

        @Override
        public long bytesRead() {
            return x.bytesRead() + y.bytesRead();
        }

        @Override
        public MemorySegment mapped() {
            return null;
        }

        @Override
        public void fill(long start, int count, MemorySegment dst) {
            DType dx = x.info().dtype(), dy = y.info().dtype();
            for (int o = 0; o < count; o++) {
                long i = start + o;
                Elements.encode(dst, dx, o, Elements.decode(x.mapped(), dx, i) + s * Elements.decode(y.mapped(), dy, i));
            }
        }

        @Override
        public void doneReading(boolean evict) {
            x.doneReading(evict);
            y.doneReading(evict);
        }
    }

    @Override
    public Path location() {
        return dir;
    }

    /** Config and tokenizer files are the base's (an adapter directory usually has neither config.json nor weights). */
    @Override
    public Path directory() {
        return base.directory();
    }

    @Override
    public Collection<TensorSource> tensors() {
        return tensors.values();
    }

    @Override
    public TensorSource tensor(String name) {
        return tensors.get(name);
    }

    /** The adapter and the base it was applied to (the base may be shared; closing is idempotent). */
    @Override
    public void close() {
        weights.close();
        base.close();
    }

    /** The adapted tensors' names (targets, biases and saved tensors), for tests and the dry run. */
    public List<String> adapted() {
        List<String> names = new ArrayList<>();
        for (TensorSource t : tensors.values()) if (base.tensor(t.name()) != t) names.add(t.name());
        return names;
    }
}
