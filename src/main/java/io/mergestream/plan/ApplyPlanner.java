package io.mergestream.plan;

import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.format.pack.PackModel;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.method.Dare;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Plans {@code mergestream apply}: base + pack, the DARE'd model the pack encodes, written as a checkpoint. Every
 * tensor is a copy of the pack model's own (format.pack.PackModel computes base + rescale(kept delta) with the merge
 * kernel, as dare does), in the pack's order, which is dare's; config and tokenizer files come from the pack. The base
 * must be the one the pack was made from: the pack model refuses another, naming the tensor.
 */
public final class ApplyPlanner {

    private ApplyPlanner() {}

    /** {@code rescale}: inverse, l1 or none; null for the rule the pack records. */
    public static MergePlan plan(Path basePath, Path pack, String rescale, MergeKernel kernel) {
        InputModel base = DarePlanner.open(basePath, "--base", null);
        PackModel model;
        try {
            model = openPack(pack, base, basePath.toString(), kernel, rescale);
        } catch (RuntimeException e) {
            base.close();
            throw e;
        }
        List<TensorJob> jobs = new ArrayList<>();
        for (TensorSource t : model.tensors()) jobs.add(TensorJob.copy(t.name(), t.info().dtype(), t));
        PackHeader h = model.header();
        return new MergePlan(null, h.strategy() == PackHeader.Strategy.RANDOM ? Dare.random() : Dare.magnitude(), h.seed(),
                new ModelInput(basePath.toString(), base), List.of(new ModelInput(pack.toString(), model)), List.copyOf(jobs),
                Planner.dominantDtype(base), model.directory(), model.directory(), java.util.OptionalInt.empty(), null);
    }

    /** A pack over {@code base}, its base tensors read as every planner reads them (F64 and FP8 decoded). */
    static PackModel openPack(Path pack, InputModel base, String baseName, MergeKernel kernel, String rescale) {
        return PackModel.open(pack, base, t -> InputTensors.readable(base, t, () -> baseName + ":"), kernel, rescale);
    }
}
