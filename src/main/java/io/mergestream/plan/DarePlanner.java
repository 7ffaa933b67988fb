package io.mergestream.plan;

import io.mergestream.method.MethodSettings;
import io.mergestream.method.TensorParams;
import io.mergestream.MergestreamException;
import io.mergestream.Warnings;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.format.peft.LoraModel;
import io.mergestream.kernel.Consensus;
import io.mergestream.method.Dare;
import io.mergestream.method.MergeMethod;
import io.mergestream.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Plans {@code mergestream dare}: base + DARE(model - base) for one fine-tune, without a recipe. Every
 * merged tensor is a task-arithmetic job with one model (weight 1, lambda 1, no election, DARE model
 * ordinal 0), so it runs through the same engine and kernels as a merge. Tensors matched by an
 * {@code --exclude} regex (anchored at the start of the name) are the fine-tune's own, copied from it
 * unchanged: unlike a recipe's {@code exclude:}, which takes the base's. Non-float tensors are copied from
 * the base, as in a merge. Config and tokenizer files come from the fine-tune. All errors are found here,
 * before any output exists.
 */
public final class DarePlanner {

    /** How tensors are sparsified. */
    public enum Strategy {
        /** The DARE keep-mask of docs/dare-mask.md. */
        RANDOM,
        /** Keep the floor(density * n) largest |delta| of each tensor. */
        MAGNITUDE
    }

    /**
     * What to do: the models, density in (0, 1], strategy, rescale (the paper's {@code INVERSE}: kept deltas
     * divided by the density; {@code L1}: mergekit's rule; {@code NONE}), exclusions and the mask seed.
     */
    public record Request(Path base, Path model, double density, Strategy strategy, TensorParams.Rescale rescale,
                          List<Pattern> exclude, long seed, Target target) {
        public Request {
            exclude = List.copyOf(exclude);
        }

        /** DARE of the delta (the paper's operation). */
        public Request(Path base, Path model, double density, Strategy strategy, TensorParams.Rescale rescale,
                       List<Pattern> exclude, long seed) {
            this(base, model, density, strategy, rescale, exclude, seed, Target.DELTA);
        }

        boolean isExcluded(String name) {
            return exclude.stream().anyMatch(p -> p.matcher(name).lookingAt());
        }
    }

    /** What is dropped: the delta (model - base), or the fine-tuned weights themselves (the paper's contrast). */
    public enum Target { DELTA, WEIGHTS }

    private DarePlanner() {}

    public static MergePlan plan(Request r) {
        if (!(r.density() > 0 && r.density() <= 1)) {
            throw new MergestreamException("density " + r.density() + " is outside (0, 1]");
        }
        if (r.target() == Target.WEIGHTS) {
            if (r.base() != null) {
                throw new MergestreamException("--target weights drops the fine-tune's own weights and reads no base:"
                        + " leave out --base (name a LoRA fine-tune as BASE+ADAPTER)");
            }
            InputModel model = open(r.model(), "--model", null);
            try {
                return buildWeights(r, model);
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        InputModel base = open(r.base(), "--base", null);
        InputModel model = null;
        try {
            model = open(r.model(), "--model", base);
            return build(r, base, model);
        } catch (RuntimeException e) {
            base.close();
            if (model != null) model.close();
            throw e;
        }
    }

    /**
     * Opens a model given on the command line: a checkpoint; a PEFT LoRA adapter directory, over {@code base} (the
     * fine-tune {@code W + s·B·A}); or {@code BASE+ADAPTER}. Used by {@code dare} and {@code delta-stats}.
     */
    public static InputModel open(Path p, String option, InputModel base) {
        String s = p.toString();
        int plus = s.indexOf('+');
        if (!Files.exists(p) && plus > 0 && plus < s.length() - 1) {
            InputModel b = open(Path.of(s.substring(0, plus)), option, null);
            Path adapter = Path.of(s.substring(plus + 1));
            try {
                if (!LoraModel.isAdapter(adapter)) {
                    throw new MergestreamException(option + " " + p + ": " + adapter + " is not a PEFT adapter directory"
                            + " (no adapter_config.json)");
                }
                return LoraModel.open(adapter, b, option + " " + p);
            } catch (RuntimeException e) {
                b.close();
                throw e;
            }
        }
        // not a local path: a Hugging Face id in the local cache, else one line naming what is missing
        if (!Files.exists(p)) return Checkpoint.open(io.mergestream.format.ModelLocator.locate(s, option));
        if (LoraModel.isAdapter(p)) {
            if (base == null) {
                throw new MergestreamException(option + " " + p + ": is a LoRA adapter; name its base as BASE+ADAPTER");
            }
            return LoraModel.open(p, base, option + " " + p);
        }
        return Checkpoint.open(p);
    }

    /**
     * {@code --target weights}: every float tensor of the fine-tune is {@code 0 + sparsify(model - 0)}, i.e. its
     * weights dropped at the rate and rescaled as a delta would be, through the same task-arithmetic job against an
     * all-zero base of the model's dtype (so the kernels, the mask and the rescale rules are the ones dare uses).
     * Excluded and non-float tensors are copied unchanged.
     */
    private static MergePlan buildWeights(Request r, InputModel modelCkpt) {
        ModelInput model = new ModelInput(r.model().toString(), modelCkpt);
        MergeMethod method = r.strategy() == Strategy.RANDOM ? Dare.random() : Dare.magnitude();
        TensorParams params = new TensorParams(new float[] {1f}, new double[] {r.density()}, new int[] {0},
                r.rescale(), false, 1f, Consensus.NONE, r.seed(), MethodSettings.NONE);
        List<TensorJob> jobs = new ArrayList<>();
        java.util.function.Supplier<String> where = () -> r.model() + ":";
        for (TensorSource stored : modelCkpt.tensors()) {
            if (InputTensors.isFp8Scale(modelCkpt, stored.name())) continue;
            TensorSource m = InputTensors.readable(modelCkpt, stored, where);
            DType dtype = m.info().dtype();
            if (r.isExcluded(m.name()) || !dtype.isMergeable()) {
                jobs.add(TensorJob.copy(m.name(), dtype, m));
                continue;
            }
            jobs.add(new TensorJob(m.name(), dtype, m.info().shape(), TensorJob.Kind.MERGE, null, new Zeros(m.info()),
                    List.of(m), params));
        }
        Path dir = modelCkpt.directory();
        return new MergePlan(null, method, r.seed(), null, List.of(model), List.copyOf(jobs),
                Planner.dominantDtype(modelCkpt), dir, dir, java.util.OptionalInt.empty(), null);
    }

    /** An all-zero tensor of a given dtype and shape (+0 in F32, F16 and BF16 is all zero bits). */
    private record Zeros(io.mergestream.tensor.TensorInfo info) implements TensorSource {
        Zeros {
            info = new io.mergestream.tensor.TensorInfo(info.name(), info.dtype(), info.shape(), 0, info.byteSize());
        }

        @Override
        public long bytesRead() {
            return 0;
        }

        @Override
        public java.lang.foreign.MemorySegment mapped() {
            return null;
        }

        @Override
        public void fill(long start, int count, java.lang.foreign.MemorySegment dst) {
            dst.asSlice(0, (long) count * info.dtype().byteSize()).fill((byte) 0);
        }

        @Override
        public void doneReading(boolean evict) {
            // nothing mapped
        }
    }

    private static MergePlan build(Request r, InputModel baseCkpt, InputModel modelCkpt) {
        ModelInput base = new ModelInput(r.base().toString(), baseCkpt);
        ModelInput model = new ModelInput(r.model().toString(), modelCkpt);
        MergeMethod method = r.strategy() == Strategy.RANDOM ? Dare.random() : Dare.magnitude();
        TensorParams params = new TensorParams(new float[] {1f}, new double[] {r.density()}, new int[] {0},
                r.rescale(), false, 1f, Consensus.NONE, r.seed(), MethodSettings.NONE);
        List<TensorJob> jobs = new ArrayList<>();
        java.util.function.Supplier<String> baseWhere = () -> r.base() + ":";
        java.util.function.Supplier<String> modelWhere = () -> r.model() + ":";
        for (TensorSource stored : baseCkpt.tensors()) {
            String name = stored.name();
            if (InputTensors.isFp8Scale(baseCkpt, name)) continue;
            TensorSource b = InputTensors.readable(baseCkpt, stored, baseWhere);
            DType dtype = b.info().dtype();
            if (r.isExcluded(name)) {
                TensorSource own = modelCkpt.tensor(name);
                // The fine-tune's own tensor; if it has none (e.g. tied embeddings), neither does the output.
                if (own != null) {
                    own = InputTensors.readable(modelCkpt, own, modelWhere);
                    jobs.add(TensorJob.copy(name, own.info().dtype(), own));
                }
                continue;
            }
            if (!dtype.isMergeable()) {
                jobs.add(TensorJob.copy(name, dtype, b));
                continue;
            }
            TensorSource m = InputTensors.find(modelCkpt, name, modelWhere);
            if (m == null) {
                throw new MergestreamException(r.model() + ": model has no tensor '" + name
                        + "' (add --exclude matching it to leave it out)");
            }
            if (!m.info().dtype().isMergeable()) {
                throw new MergestreamException(r.model() + ": tensor '" + name + "' is " + m.info().dtype()
                        + ", which cannot be merged (only float tensors can: F32, F16, BF16, F64, FP8)");
            }
            if (!b.info().sameShape(m.info().shape())) {
                throw new MergestreamException(r.model() + ": tensor '" + name + "' has shape "
                        + m.info().shapeString() + " but " + b.info().shapeString()
                        + " in the base (add --exclude matching it to keep the fine-tune's own)");
            }
            jobs.add(new TensorJob(name, dtype, b.info().shape(), TensorJob.Kind.MERGE, null, b, List.of(m), params));
        }
        for (TensorSource m : modelCkpt.tensors()) {
            if (baseCkpt.contains(m.name()) || InputTensors.isFp8Scale(modelCkpt, m.name())) continue;
            if (!r.isExcluded(m.name())) {
                throw new MergestreamException(r.model() + ": tensor '" + m.name()
                        + "' is missing from the base model (add --exclude matching it to keep the fine-tune's own)");
            }
            TensorSource own = InputTensors.readable(modelCkpt, m, modelWhere);
            jobs.add(TensorJob.copy(m.name(), own.info().dtype(), own));
        }
        for (Pattern p : r.exclude()) {
            // a typo would otherwise leave the tensors it meant sparsified without a word
            boolean matched = baseCkpt.tensors().stream().anyMatch(t -> p.matcher(t.name()).lookingAt())
                    || modelCkpt.tensors().stream().anyMatch(t -> p.matcher(t.name()).lookingAt());
            if (!matched) {
                Warnings.warn("--exclude '" + p.pattern() + "' matches no tensor of " + r.base() + " or "
                        + r.model() + " (regexes match the start of tensor names): nothing is excluded by it");
            }
        }
        Path dir = modelCkpt.directory();
        return new MergePlan(null, method, r.seed(), base, List.of(model), List.copyOf(jobs),
                Planner.dominantDtype(baseCkpt), dir, dir, java.util.OptionalInt.empty(), null);
    }
}
