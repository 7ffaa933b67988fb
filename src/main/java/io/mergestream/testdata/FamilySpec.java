package io.mergestream.testdata;

import io.mergestream.format.ShardSize;
import io.mergestream.tensor.DType;
import java.util.List;
import java.util.Locale;

/**
 * What {@link FamilyGenerator} writes: a base model and {@code fineTunes} fine-tunes of one architecture.
 * Immutable; change it with the {@code with*} methods, starting from {@link #llama()} or {@link #bert()}.
 *
 * <p>Fields:
 * <ul>
 *   <li>{@code architecture} LLAMA or BERT; {@code layers}, {@code hidden}, {@code intermediate},
 *       {@code vocab}, {@code heads}, {@code kvHeads} (LLAMA's grouped-query key/value heads; BERT ignores it)
 *       and {@code positions} (BERT's {@code max_position_embeddings}; LLAMA only writes it to config.json);</li>
 *   <li>{@code fineTunes} K: the models written are {@code base}, {@code ft1} ... {@code ftK};</li>
 *   <li>{@code dtype} BF16, F16 or F32;</li>
 *   <li>{@code deltas}: how far the fine-tunes move from their origin (see {@link DeltaKind});</li>
 *   <li>{@code unrelatedBase}: the fine-tunes derive from another random base than the one written;</li>
 *   <li>{@code shardBytes}: a model whose tensors exceed it is written as shards plus an index;
 *       {@code shardedModels} restricts that to the named models (empty: every model);</li>
 *   <li>{@code labels}: BERT fine-tune {@code ftK} gets a classifier with {@code labels[(K-1) % n]} outputs;</li>
 *   <li>{@code seed}: every value is a function of (seed, model, tensor name, element index);</li>
 *   <li>{@code targetBytes}: if positive, {@link #resolve()} picks the dimensions (see there).</li>
 * </ul>
 */
public record FamilySpec(
        Architecture architecture,
        int layers,
        int hidden,
        int intermediate,
        int vocab,
        int heads,
        int kvHeads,
        int positions,
        int fineTunes,
        DType dtype,
        DeltaKind deltas,
        boolean unrelatedBase,
        long shardBytes,
        List<String> shardedModels,
        List<Integer> labels,
        long seed,
        long targetBytes) {

    public enum Architecture {
        LLAMA, BERT;

        public static Architecture parse(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        }
    }

    /**
     * How the fine-tunes differ from their origin, per element (delta = fine-tune - origin, before rounding to
     * the dtype).
     */
    public enum DeltaKind {
        /**
         * Supervised fine-tuning: Laplace with scale b = {@value FamilySpec#SFT_LAPLACE_SCALE}, so
         * P(|delta| &lt; 0.005) = 1 - exp(-0.005/b) = 96.4% and the median |delta| is b ln 2 = 0.00104.
         */
        SFT,
        /**
         * Continued pre-training: approximately normal (Irwin-Hall of four uniforms) with sigma
         * {@value FamilySpec#LARGE_SIGMA}, so the median |delta| is 0.6745 sigma = 0.03.
         */
        LARGE;

        public static DeltaKind parse(String s) {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        }
    }

    public static final double SFT_LAPLACE_SCALE = 0.0015;
    public static final double LARGE_SIGMA = 0.0445;

    /** GLUE-like label counts: SST-2 (2), MNLI (3), STS-B (1, regression). */
    public static final List<Integer> GLUE_LABELS = List.of(2, 3, 1);

    public FamilySpec {
        if (architecture == null || dtype == null || deltas == null) throw new IllegalArgumentException("null field");
        if (dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.F32) {
            throw new IllegalArgumentException("dtype must be BF16, F16 or F32, not " + dtype);
        }
        shardedModels = List.copyOf(shardedModels);
        labels = List.copyOf(labels);
    }

    /**
     * Checks that the dimensions fit together (positive, hidden a multiple of heads, heads of kvHeads ...);
     * called by {@link #resolve()}, so that the {@code with*} methods may pass through inconsistent states.
     */
    public FamilySpec validate() {
        positive("layers", layers);
        positive("hidden", hidden);
        positive("intermediate", intermediate);
        positive("vocab", vocab);
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        positive("positions", positions);
        if (hidden % heads != 0) throw new IllegalArgumentException("hidden " + hidden + " is not a multiple of heads " + heads);
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " is not a multiple of kvHeads " + kvHeads);
        if (fineTunes < 0) throw new IllegalArgumentException("fineTunes must be >= 0");
        if (shardBytes <= 0) throw new IllegalArgumentException("shardBytes must be positive");
        if (labels.isEmpty() || labels.stream().anyMatch(n -> n < 1)) throw new IllegalArgumentException("labels must be >= 1");
        return this;
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, is " + v);
    }

    /** A small Llama: 2 layers, hidden 64, intermediate 128, vocab 256, 4 heads, 3 fine-tunes, BF16, SFT. */
    public static FamilySpec llama() {
        return new FamilySpec(Architecture.LLAMA, 2, 64, 128, 256, 4, 4, 2048, 3, DType.BF16, DeltaKind.SFT, false,
                ShardSize.DEFAULT, List.of(), GLUE_LABELS, 42, 0);
    }

    /** A small BERT: 2 layers, hidden 32, intermediate 128, vocab 128, 2 heads, 64 positions, 3 fine-tunes, F32. */
    public static FamilySpec bert() {
        return new FamilySpec(Architecture.BERT, 2, 32, 128, 128, 2, 2, 64, 3, DType.F32, DeltaKind.SFT, false,
                ShardSize.DEFAULT, List.of(), GLUE_LABELS, 42, 0);
    }

    public static FamilySpec of(Architecture a) {
        return a == Architecture.LLAMA ? llama() : bert();
    }

    public FamilySpec withArchitecture(Architecture v) {
        return new FamilySpec(v, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes, dtype, deltas,
                unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withLayers(int v) {
        return new FamilySpec(architecture, v, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes, dtype,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withHidden(int v) {
        return new FamilySpec(architecture, layers, v, intermediate, vocab, heads, kvHeads, positions, fineTunes, dtype,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withIntermediate(int v) {
        return new FamilySpec(architecture, layers, hidden, v, vocab, heads, kvHeads, positions, fineTunes, dtype, deltas,
                unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withVocab(int v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, v, heads, kvHeads, positions, fineTunes, dtype,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    /** Sets the attention heads and (no grouped-query attention) as many key/value heads. */
    public FamilySpec withHeads(int v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, v, v, positions, fineTunes, dtype, deltas,
                unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withKvHeads(int v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, v, positions, fineTunes, dtype,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withPositions(int v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, v, fineTunes, dtype,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withFineTunes(int v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, v, dtype,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withDtype(DType v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes, v,
                deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withDeltas(DeltaKind v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, v, unrelatedBase, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withUnrelatedBase(boolean v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, deltas, v, shardBytes, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withShardBytes(long v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, deltas, unrelatedBase, v, shardedModels, labels, seed, targetBytes);
    }

    public FamilySpec withShardedModels(List<String> v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, deltas, unrelatedBase, shardBytes, v, labels, seed, targetBytes);
    }

    public FamilySpec withLabels(List<Integer> v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, deltas, unrelatedBase, shardBytes, shardedModels, v, seed, targetBytes);
    }

    public FamilySpec withSeed(long v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, deltas, unrelatedBase, shardBytes, shardedModels, labels, v, targetBytes);
    }

    /** Asks {@link #resolve()} to pick layers, hidden, intermediate and heads so that each model has about this size. */
    public FamilySpec withTargetBytes(long v) {
        return new FamilySpec(architecture, layers, hidden, intermediate, vocab, heads, kvHeads, positions, fineTunes,
                dtype, deltas, unrelatedBase, shardBytes, shardedModels, labels, seed, v);
    }

    /** The model directory names: {@code base, ft1, ..., ftK}. */
    public List<String> modelNames() {
        List<String> names = new java.util.ArrayList<>();
        names.add("base");
        for (int k = 1; k <= fineTunes; k++) names.add("ft" + k);
        return List.copyOf(names);
    }

    /** Whether {@code model} is written with {@link #shardBytes} (otherwise as one file). */
    public boolean shards(String model) {
        return shardedModels.isEmpty() || shardedModels.contains(model);
    }

    /** Label count of BERT fine-tune {@code k} (1-based). */
    public int labelsOf(int k) {
        return labels.get((k - 1) % labels.size());
    }

    /** Bytes of tensor data of the base model (fine-tunes differ only by BERT's classifier). */
    public long baseModelBytes() {
        return ModelLayout.tensors(this, 0).stream().mapToLong(t -> t.elements() * dtype.byteSize()).sum();
    }

    /**
     * The spec with concrete dimensions, {@linkplain #validate() validated}. Without a target size it is this spec. With {@code targetBytes} T the
     * vocabulary, K, dtype and everything else are kept and the shape grows as real model families grow:
     * hidden h is a multiple of 64, heads = h/64 (head size 64, no grouped-query attention), intermediate =
     * 8h/3 rounded up to a multiple of 64 for LLAMA (SwiGLU) and 4h for BERT. First h is the largest for
     * which a model with h/64 layers (at least 1) stays within T (at least 64); then the number of layers is
     * the one (at least 1) that brings the base model's tensor bytes nearest to T. A target below the
     * smallest such model (h = 64, one layer: the embeddings dominate) gives that smallest model.
     */
    public FamilySpec resolve() {
        if (targetBytes <= 0) return validate();
        FamilySpec best = shaped(64, 1);
        for (int h = 64; ; h += 64) {
            FamilySpec s = shaped(h, Math.max(1, h / 64));
            if (s.baseModelBytes() > targetBytes) break;
            best = s;
        }
        long perLayer = best.withLayers(2).baseModelBytes() - best.withLayers(1).baseModelBytes();
        long fixed = best.withLayers(1).baseModelBytes() - perLayer;
        int layers = (int) Math.max(1, Math.round((targetBytes - fixed) / (double) perLayer));
        return best.withLayers(layers).validate();
    }

    private FamilySpec shaped(int h, int layers) {
        int inter = architecture == Architecture.LLAMA ? (8 * h / 3 + 63) / 64 * 64 : 4 * h;
        return new FamilySpec(architecture, layers, h, inter, vocab, h / 64, h / 64, positions, fineTunes, dtype, deltas,
                unrelatedBase, shardBytes, shardedModels, labels, seed, 0);
    }
}
