package io.mergestream.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * DARE of one fine-tune, without a recipe: {@code base + sparsify(model - base)} (the DARE paper's drop and
 * rescale), or with {@link Target#WEIGHTS} the fine-tune's own weights sparsified. Made with
 * {@link #builder(String, double)}, run with {@link Merge#dare(DareRequest, MergeOptions)}; the same request
 * written as a delta pack is {@link Merge#writePack(java.nio.file.Path, int)}. The keep-mask seed is the options'
 * {@link MergeOptions.Builder#seed(long) seed} (0 when none is given).
 *
 * <pre>{@code
 * DareRequest dare = DareRequest.builder("models/ft", 0.3).base("models/base")
 *         .exclude(Pattern.compile("lm_head\\.")).build();
 * Merge.dare(dare, MergeOptions.defaults()).run(Path.of("ft-dare"));
 * }</pre>
 *
 * <p>Models are named as everywhere in mergestream: a local directory or checkpoint file, {@code BASE+ADAPTER} for
 * a PEFT LoRA adapter over its base, or a Hugging Face id found in the local cache.
 */
public final class DareRequest {

    /** Which elements are kept. */
    public enum Strategy {
        /** Each element kept with probability {@code density} by the DARE keep-mask (docs/dare-mask.md). */
        RANDOM,
        /** The {@code floor(density * n)} largest |delta| of each tensor kept (ties to the lowest index). */
        MAGNITUDE
    }

    /** What kept elements become. */
    public enum Rescale {
        /** Divided by the density: the DARE paper's rule. */
        INVERSE,
        /** Scaled so that each tensor's kept delta has the L1 norm of its whole delta (mergekit's {@code rescale: true}). */
        L1,
        /** Kept as they are. */
        NONE
    }

    /** What is sparsified. */
    public enum Target {
        /** The delta {@code model - base}: the DARE paper's operation (needs a base). */
        DELTA,
        /** The fine-tuned weights themselves, with no base: the paper's contrast. */
        WEIGHTS
    }

    private final String base;
    private final String model;
    private final double density;
    private final Strategy strategy;
    private final Rescale rescale;
    private final Target target;
    private final List<Pattern> exclude;

    private DareRequest(Builder b) {
        this.base = b.base;
        this.model = b.model;
        this.density = b.density;
        this.strategy = b.strategy;
        this.rescale = b.rescale;
        this.target = b.target;
        this.exclude = List.copyOf(b.exclude);
    }

    /**
     * A builder for DARE of {@code model} keeping {@code density} of its elements: random strategy, inverse
     * rescale, the delta as the target, nothing excluded.
     *
     * @param model   the fine-tune
     * @param density the fraction kept, in (0, 1] (checked when the merge is planned)
     * @return the builder
     */
    public static Builder builder(String model, double density) {
        return new Builder(model, density);
    }

    /**
     * The base model, empty for {@link Target#WEIGHTS}.
     *
     * @return the base model, empty for {@link Target#WEIGHTS}
     */
    public Optional<String> base() {
        return Optional.ofNullable(base);
    }

    /**
     * The fine-tune.
     *
     * @return the fine-tune
     */
    public String model() {
        return model;
    }

    /**
     * The fraction of elements kept.
     *
     * @return the fraction of elements kept
     */
    public double density() {
        return density;
    }

    /**
     * Which elements are kept.
     *
     * @return which elements are kept
     */
    public Strategy strategy() {
        return strategy;
    }

    /**
     * What kept elements become.
     *
     * @return what kept elements become
     */
    public Rescale rescale() {
        return rescale;
    }

    /**
     * What is sparsified.
     *
     * @return what is sparsified
     */
    public Target target() {
        return target;
    }

    /**
     * The patterns of the tensors left as the fine-tune has them.
     *
     * @return the patterns of the tensors left as the fine-tune has them
     */
    public List<Pattern> exclude() {
        return exclude;
    }

    /** Sets the parts of a request one by one. */
    public static final class Builder {
        private final String model;
        private final double density;
        private String base;
        private Strategy strategy = Strategy.RANDOM;
        private Rescale rescale = Rescale.INVERSE;
        private Target target = Target.DELTA;
        private final List<Pattern> exclude = new ArrayList<>();

        private Builder(String model, double density) {
            this.model = Objects.requireNonNull(model, "model");
            this.density = density;
        }

        /**
         * Sets the base model, which {@link Target#DELTA} needs.
         *
         * @param base the model the fine-tune was trained from
         * @return this builder
         */
        public Builder base(String base) {
            this.base = Objects.requireNonNull(base, "base");
            return this;
        }

        /**
         * Sets which elements are kept.
         *
         * @param strategy the strategy (default {@link Strategy#RANDOM})
         * @return this builder
         */
        public Builder strategy(Strategy strategy) {
            this.strategy = Objects.requireNonNull(strategy, "strategy");
            return this;
        }

        /**
         * Sets what kept elements become.
         *
         * @param rescale the rule (default {@link Rescale#INVERSE})
         * @return this builder
         */
        public Builder rescale(Rescale rescale) {
            this.rescale = Objects.requireNonNull(rescale, "rescale");
            return this;
        }

        /**
         * Sets what is sparsified.
         *
         * @param target the target (default {@link Target#DELTA})
         * @return this builder
         */
        public Builder target(Target target) {
            this.target = Objects.requireNonNull(target, "target");
            return this;
        }

        /**
         * Leaves the tensors whose name starts with a match of {@code pattern} as the fine-tune has them (copied
         * unchanged; unlike a recipe's {@code exclude:}, which takes the base's). May be called again for more.
         *
         * @param pattern matched at the start of tensor names
         * @return this builder
         */
        public Builder exclude(Pattern pattern) {
            exclude.add(Objects.requireNonNull(pattern, "pattern"));
            return this;
        }

        /**
         * The request.
         *
         * @return the request
         * @throws IllegalStateException when the target is the delta and no base was given
         */
        public DareRequest build() {
            if (target == Target.DELTA && base == null) {
                throw new IllegalStateException("DARE of the delta needs a base model (or Target.WEIGHTS)");
            }
            return new DareRequest(this);
        }
    }
}
