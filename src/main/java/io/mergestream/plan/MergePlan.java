package io.mergestream.plan;

import io.mergestream.method.MergeMethod;
import io.mergestream.recipe.Recipe;
import io.mergestream.tensor.DType;
import io.mergestream.tokenizer.VocabularyPlan;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
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
        // a compact plan sums once: each pass over its jobs rebuilds them, and a run asks several times
        if (jobs instanceof PlannedJobs p) return p.totals()[0];
        return jobs.stream().mapToLong(TensorJob::inputBytes).sum();
    }

    public long outputBytes() {
        if (jobs instanceof PlannedJobs p) return p.totals()[1];
        return jobs.stream().mapToLong(TensorJob::outputBytes).sum();
    }

    public long mergedTensors() {
        return jobs.stream().filter(j -> j.kind() == TensorJob.Kind.MERGE).count();
    }

    /**
     * The output's vocabulary size for config.json's {@code vocab_size}: the rows of its input embedding (else of
     * its output head), which may be fewer than the config source's when vocabularies were truncated to their
     * common rows; empty when the output has no vocabulary tensor.
     */
    public OptionalInt vocabularyRows() {
        TensorJob head = null;
        for (TensorJob j : jobs) {
            if (!Planner.isVocabulary(j.name()) || j.shape().length == 0) continue;
            boolean output = j.name().contains("lm_head") || j.name().contains("embed_out");
            if (!output) return OptionalInt.of(Math.toIntExact(j.shape()[0]));
            if (head == null) head = j;
        }
        return head == null ? OptionalInt.empty() : OptionalInt.of(Math.toIntExact(head.shape()[0]));
    }

    /**
     * Every file and directory this run reads, to keep the output away from all of them (an output that is,
     * holds or lies inside one is refused): the base and merged models (as given and their directories, for a
     * model given as a file), the config and tokenizer sources ({@code tokenizer_source} or the tokenizer block's
     * source: {@link #tokenizerSource}), the models named under {@code tokenizer.tokens}, and the recipe file.
     */
    public List<Path> inputPaths() {
        Set<Path> paths = new LinkedHashSet<>();
        if (base != null) addModel(paths, base.checkpoint());
        for (ModelInput m : fineTunes) addModel(paths, m.checkpoint());
        if (configSource != null) paths.add(configSource);
        if (tokenizerSource != null) paths.add(tokenizerSource);
        if (recipe != null) {
            recipe.tokenizer().ifPresent(t -> t.tokens().values().forEach(s -> {
                if (s.model() != null) paths.add(recipe.resolveModelPath(s.model()));
            }));
            if (recipe.path() != null) paths.add(recipe.path());
        }
        return List.copyOf(paths);
    }

    private static void addModel(Set<Path> paths, io.mergestream.format.InputModel c) {
        paths.add(c.location());
        paths.add(c.directory());
        // a LoRA fine-tune reads its base model too, which need not be the recipe's base
        if (c instanceof io.mergestream.format.peft.LoraModel lora) addModel(paths, lora.base());
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
