package io.mergestream.plan;

import io.mergestream.method.MergeMethod;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import io.mergestream.tokenizer.VocabularyPlan;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated merge: every output tensor's job with its inputs opened and its parameters resolved. Built
 * before any output is written, so that every recipe or input error is reported first. Closing the plan
 * unmaps the inputs.
 *
 * @param base        the base model, or null for methods without one
 * @param fineTunes   the merged models in fine-tune order (the DARE mask's model numbers)
 * @param configDtype the dtype written into config.json's torch_dtype
 * @param vocabulary  the vocabulary merge (tokenizer_source: union / a model, or a tokenizer: block); null when
 *                    vocabulary tensors are merged by position
 */
public record MergePlan(Recipe recipe, MergeMethod method, long seed, ModelInput base, List<ModelInput> fineTunes,
                        List<TensorJob> jobs, DType configDtype, Path configSource, Path tokenizerSource,
                        VocabularyPlan vocabulary)
        implements AutoCloseable {

    public long inputBytes() {
        return jobs.stream().mapToLong(TensorJob::inputBytes).sum();
    }

    public long outputBytes() {
        return jobs.stream().mapToLong(TensorJob::outputBytes).sum();
    }

    public long mergedTensors() {
        return jobs.stream().filter(j -> j.kind() == TensorJob.Kind.MERGE).count();
    }

    /** The model directories read, to keep the output away from them. */
    public List<Path> inputPaths() {
        List<Path> paths = new ArrayList<>();
        if (base != null) paths.add(base.checkpoint().location());
        for (ModelInput m : fineTunes) paths.add(m.checkpoint().location());
        return paths;
    }

    @Override
    public void close() {
        if (base != null) base.checkpoint().close();
        for (ModelInput m : fineTunes) {
            if (base == null || m.checkpoint() != base.checkpoint()) m.checkpoint().close();
        }
    }
}
