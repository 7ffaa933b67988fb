package io.mergestream.api;

import java.util.Objects;
import java.util.OptionalLong;

/**
 * How a {@link Merge} runs; none of it changes the output's bytes except {@link Builder#seed(long) seed} (same
 * recipe and seed give bit-identical output for any thread count, chunk size or kernel). Build one with
 * {@link #builder()}; {@link #defaults()} is all cores, the best kernel, the recipe's seed, 5 GB shards, lenient.
 */
public final class MergeOptions {

    /** The kernel that computes merged elements: all give the same bytes, at different speeds. */
    public enum Kernel {
        /** The Vector API kernel where it runs well, else the scalar one (a logged notice says why). */
        AUTO,
        /** The Vector API kernel; refused (a {@link BadInputException}) where it cannot run well. */
        VECTOR,
        /** The plain Java reference kernel. */
        SCALAR,
        /** The C yardstick kernel, when the native library was built and native access is enabled. */
        NATIVE
    }

    /** The default largest output shard: 5 GB, as mergekit and transformers shard. */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;

    private final int threads;
    private final Kernel kernel;
    private final OptionalLong seed;
    private final long shardBytes;
    private final boolean strict;
    private final boolean replaceOutput;
    private final int chunkElements;
    private final MergeListener listener;

    private MergeOptions(Builder b) {
        this.threads = b.threads;
        this.kernel = b.kernel;
        this.seed = b.seed;
        this.shardBytes = b.shardBytes;
        this.strict = b.strict;
        this.replaceOutput = b.replaceOutput;
        this.chunkElements = b.chunkElements;
        this.listener = b.listener;
    }

    /**
     * A builder holding the defaults.
     *
     * @return a builder holding the defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The defaults: all cores, {@link Kernel#AUTO}, the recipe's seed, 5 GB shards, lenient, no listener.
     *
     * @return the defaults: all cores, {@link Kernel#AUTO}, the recipe's seed, 5 GB shards, lenient, no listener
     */
    public static MergeOptions defaults() {
        return builder().build();
    }

    /**
     * Worker threads.
     *
     * @return worker threads
     */
    public int threads() {
        return threads;
    }

    /**
     * The kernel.
     *
     * @return the kernel
     */
    public Kernel kernel() {
        return kernel;
    }

    /**
     * The DARE seed that overrides the recipe's, or empty for the recipe's own.
     *
     * @return the DARE seed that overrides the recipe's, or empty for the recipe's own
     */
    public OptionalLong seed() {
        return seed;
    }

    /**
     * The largest output shard in bytes (a directory run).
     *
     * @return the largest output shard in bytes (a directory run)
     */
    public long shardBytes() {
        return shardBytes;
    }

    /**
     * Whether what mergekit ignores is refused instead of warned about.
     *
     * @return whether what mergekit ignores is refused instead of warned about
     */
    public boolean strict() {
        return strict;
    }

    /**
     * Whether a directory run may replace an earlier mergestream output (the CLI's {@code --force}).
     *
     * @return whether a directory run may replace an earlier mergestream output (the CLI's {@code --force})
     */
    public boolean replaceOutput() {
        return replaceOutput;
    }

    /**
     * Elements per chunk, the unit of work and of cancellation.
     *
     * @return elements per chunk, the unit of work and of cancellation
     */
    public int chunkElements() {
        return chunkElements;
    }

    /**
     * The listener that receives progress, events and warnings.
     *
     * @return the listener that receives progress, events and warnings
     */
    public MergeListener listener() {
        return listener;
    }

    /** Sets the options one by one; every setter checks its value at once. */
    public static final class Builder {
        private int threads = Runtime.getRuntime().availableProcessors();
        private Kernel kernel = Kernel.AUTO;
        private OptionalLong seed = OptionalLong.empty();
        private long shardBytes = DEFAULT_SHARD_BYTES;
        private boolean strict;
        private boolean replaceOutput;
        private int chunkElements = 1 << 16;
        private MergeListener listener = MergeListener.NONE;

        private Builder() {}

        /**
         * Sets the worker threads.
         *
         * @param threads worker threads, at least 1 (default: all cores)
         * @return this builder
         */
        public Builder threads(int threads) {
            if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, not " + threads);
            this.threads = threads;
            return this;
        }

        /**
         * Sets the kernel.
         *
         * @param kernel the kernel (default {@link Kernel#AUTO})
         * @return this builder
         */
        public Builder kernel(Kernel kernel) {
            this.kernel = Objects.requireNonNull(kernel, "kernel");
            return this;
        }

        /**
         * Sets the DARE mask seed, overriding the recipe's.
         *
         * @param seed the DARE mask seed, overriding the recipe's {@code seed} (unsigned 64 bits in a long)
         * @return this builder
         */
        public Builder seed(long seed) {
            this.seed = OptionalLong.of(seed);
            return this;
        }

        /**
         * Sets the largest output shard.
         *
         * @param bytes the largest output shard of a directory run, at least 1 (default 5 GB)
         * @return this builder
         */
        public Builder shardBytes(long bytes) {
            if (bytes < 1) throw new IllegalArgumentException("shard size must be at least 1 byte, not " + bytes);
            this.shardBytes = bytes;
            return this;
        }

        /**
         * Sets whether what mergekit ignores is an error.
         *
         * @param strict refuse what mergekit ignores (unknown keys, parameters the method does not use) instead of
         *               warning (default false)
         * @return this builder
         */
        public Builder strict(boolean strict) {
            this.strict = strict;
            return this;
        }

        /**
         * Sets whether a directory run may replace an earlier output.
         *
         * @param replace let a directory run replace an earlier mergestream output in the target: only the files
         *                its manifest lists, other files stay (default false: the target must be new or empty)
         * @return this builder
         */
        public Builder replaceOutput(boolean replace) {
            this.replaceOutput = replace;
            return this;
        }

        /**
         * Sets the elements per chunk.
         *
         * @param elements elements per chunk, at least 1 (default 65536): the output is identical for any value;
         *                 smaller chunks make cancellation finer and runs slower
         * @return this builder
         */
        public Builder chunkElements(int elements) {
            if (elements < 1) throw new IllegalArgumentException("chunk size must be at least 1, not " + elements);
            this.chunkElements = elements;
            return this;
        }

        /**
         * Sets the listener.
         *
         * @param listener receives progress, events and warnings (default: none; warnings then go to
         *                 {@link System.Logger} {@code io.mergestream})
         * @return this builder
         */
        public Builder listener(MergeListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * The options.
         *
         * @return the options
         */
        public MergeOptions build() {
            return new MergeOptions(this);
        }
    }
}
