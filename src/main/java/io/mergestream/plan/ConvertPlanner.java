package io.mergestream.plan;

import io.mergestream.method.TensorParams;
import io.mergestream.MergestreamException;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import io.mergestream.kernel.MergeKernel;
import io.mergestream.method.ChunkOp;
import io.mergestream.method.MergeInputs;
import io.mergestream.method.MergeMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * Plans {@code mergestream convert}: every tensor of one model copied unchanged (name, dtype, shape, bytes),
 * so that the engine writes it as sharded safetensors with index, config and tokenizer files, atomically. A
 * tensor the input cannot serve (a non-contiguous view in a {@code .bin}) is refused here, before any
 * output exists.
 */
public final class ConvertPlanner {

    /** The plan's method: only COPY jobs, so the engine never asks it to merge. */
    static final MergeMethod CONVERT = new MergeMethod() {
        @Override
        public String name() {
            return "convert";
        }

        @Override
        public ChunkOp prepare(String tensor, TensorParams params, MergeInputs inputs, MergeKernel kernel, ChunkRunner runner) {
            throw new IllegalStateException("convert merges nothing (" + tensor + ")");
        }
    };

    private ConvertPlanner() {}

    public static MergePlan plan(Path model) {
        if (!Files.exists(model)) throw new MergestreamException(model + ": no such model directory or file");
        Checkpoint ckpt = Checkpoint.open(model);
        try {
            List<TensorJob> jobs = new ArrayList<>();
            for (StoredTensor t : ckpt.tensors()) {
                t.checkReadable();
                jobs.add(TensorJob.copy(t.name(), t.info().dtype(), t));
            }
            Path dir = ckpt.directory();
            return new MergePlan(null, CONVERT, 0, null, List.of(new ModelInput(model.toString(), ckpt)), List.copyOf(jobs),
                    Planner.dominantDtype(ckpt), dir, dir, OptionalInt.empty(), null);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }
}
