package io.mergestream.plan;

import io.mergestream.method.MergeMethod;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import io.mergestream.tokenizer.VocabularyPlan;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import io.mergestream.format.InputModel;

/**
 * A validated merge: every output tensor's job with its inputs opened and its parameters resolved. Built
 * before any output is written, so that every recipe or input error is reported first. Closing the plan
 * unmaps the inputs.
 *
 * @param recipe      the recipe, or null for a run that has none ({@code mergestream dare}: its model card
 *                    then describes the operation itself, see engine.ModelCard)
 * @param base        the base model, or null for methods without one
 * @param fineTunes   the merged models in fine-tune order (the DARE mask's model numbers)
 * @param configDtype the dtype written into config.json's torch_dtype
 * @param outputLayers the layer count written into config.json's num_hidden_layers (slices), or empty to keep it
 * @param vocabulary  the vocabulary merge (tokenizer_source: union / a model, or a tokenizer: block); null when
 *                    vocabulary tensors are merged by position
 */
public record MergePlan(Recipe recipe, MergeMethod method, long seed, ModelInput base, List<ModelInput> fineTunes,
                        List<TensorJob> jobs, DType configDtype, Path configSource, Path tokenizerSource,
                        OptionalInt outputLayers, VocabularyPlan vocabulary)
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

    /** Closes every opened checkpoint once (a model may appear as the base and among the merged models). */
    @Override
    public void close() {
        Set<InputModel> closed = Collections.newSetFromMap(new IdentityHashMap<>());
        if (base != null && closed.add(base.checkpoint())) base.checkpoint().close();
        for (ModelInput m : fineTunes) {
            if (closed.add(m.checkpoint())) m.checkpoint().close();
        }
    }
}
