package io.mergestream.plan;

import io.mergestream.MergestreamException;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.recipe.ModelEntry;
import io.mergestream.recipe.OutputSlice;
import io.mergestream.recipe.ParameterResolver;
import io.mergestream.recipe.Recipe;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Plans a recipe with {@code slices:} (mergekit's layer stacking): output layer {@code n} is the n-th layer
 * over all slices in order; within a slice, offset {@code i} is merged from layer {@code from + i} of every
 * source, and renamed to its output index. Gradients run over each slice's layers ({@code t = i/(L−1)}, and
 * 1 for a one-layer slice, as mergekit). Tensors outside the layers come from the first slice's sources
 * (input embeddings) or the last slice's (final norm, lm_head, everything else), at gradient position 0 as
 * merge-semantics.md sets for non-layer tensors. config.json gets the new {@code num_hidden_layers}. A slice's
 * own {@code base_model} and {@code parameters} apply to its layers (and, for the first and last slice, to the
 * tensors outside the layers they give), through {@link Recipe#isBase} and {@link Recipe#mergeParameters(OutputSlice)}.
 */
final class SlicePlanner {

    private final Planner planner;
    private final Recipe recipe;
    private final Map<String, ModelInput> inputs = new LinkedHashMap<>();
    private ModelInput base;

    SlicePlanner(Planner planner, Recipe recipe) {
        this.planner = planner;
        this.recipe = recipe;
    }

    MergePlan build() {
        // the plan's base (model card, reference tensors): the recipe's, else the first slice base (mergekit)
        base = recipe.baseModel().or(() -> recipe.slices().stream().flatMap(s -> s.baseModel().stream()).findFirst())
                .map(planner::open).orElse(null);
        for (OutputSlice s : recipe.slices()) {
            for (OutputSlice.Source src : s.sources()) inputs.computeIfAbsent(src.model(), planner::open);
            planner.checkDistinct(s.entries(), recipe.baseModelOf(s));
        }
        List<OutputSlice> slices = recipe.slices();
        OutputSlice first = slices.get(0);
        OutputSlice last = slices.get(slices.size() - 1);
        InputModel reference = base != null ? base.checkpoint() : input(first.sources().get(0)).checkpoint();
        planner.checkFp8OutDtype(base, List.copyOf(inputs.values()));

        List<TensorJob> pre = new ArrayList<>();
        List<TensorJob> post = new ArrayList<>();
        for (TensorSource t : reference.tensors()) {
            if (ParameterResolver.layerIndex(t.name()).isPresent() || InputTensors.isFp8Scale(reference, t.name())) continue;
            boolean isInputEmbedding = isInputEmbedding(t.name());
            (isInputEmbedding ? pre : post).add(sliceJob(isInputEmbedding ? first : last, t.name(), -1, -1, 0));
        }
        List<TensorJob> layers = new ArrayList<>();
        int outLayer = 0;
        for (OutputSlice s : slices) {
            for (int i = 0; i < s.layers(); i++, outLayer++) {
                double t = s.layers() > 1 ? (double) i / (s.layers() - 1) : 1;
                OutputSlice.Source lead = lead(s);
                for (TensorSource tensor : layerTensors(lead, i, s)) {
                    layers.add(sliceJob(s, tensor.name(), i, outLayer, t));
                }
            }
        }
        List<TensorJob> jobs = new ArrayList<>(pre);
        jobs.addAll(layers);
        jobs.addAll(post);
        List<ModelInput> models = inputs.values().stream()
                .filter(m -> base == null || !m.name().equals(base.name())).toList();
        return planner.plan(planner.method(), base, models, jobs, reference.directory(), reference,
                OptionalInt.of(outLayer));
    }

    /**
     * One output tensor of slice {@code s}. {@code leadName} is the tensor's name in the lead source; for a layer
     * tensor, {@code offset} is its layer's place in the slice and {@code outLayer} its output layer (both -1
     * for tensors outside the layers).
     */
    private TensorJob sliceJob(OutputSlice s, String leadName, int offset, int outLayer, double t) {
        String outName = offset < 0 ? leadName : ParameterResolver.withLayerIndex(leadName, outLayer);
        List<ModelEntry> entries = recipe.mergedModels(s.entries());
        OutputSlice.Source baseSource = recipe.method().separatesBase() ? baseSource(s) : null;
        TensorSource baseTensor = baseSource == null ? null : tensor(baseSource, leadName, offset);
        List<ModelInput> models = new ArrayList<>();
        List<TensorSource> tensors = new ArrayList<>();
        for (ModelEntry e : entries) {
            OutputSlice.Source src = s.sources().stream().filter(x -> x.entry().equals(e)).findFirst().orElseThrow();
            models.add(input(src));
            tensors.add(tensor(src, leadName, offset));
        }
        TensorSource source = baseTensor != null ? baseTensor : tensors.get(0);
        if (recipe.isExcluded(outName) || !source.info().dtype().isMergeable()) tensors.clear();
        return planner.job(outName, source, baseTensor, models, tensors, entries, t, s);
    }

    /** The source whose layers define the slice's tensor names: the base's where it is apart, else the first. */
    private OutputSlice.Source lead(OutputSlice s) {
        OutputSlice.Source b = recipe.method().separatesBase() ? baseSource(s) : null;
        return b != null ? b : s.sources().stream().filter(x -> recipe.mergedModels(s.entries()).contains(x.entry()))
                .findFirst().orElse(s.sources().get(0));
    }

    private OutputSlice.Source baseSource(OutputSlice s) {
        return s.sources().stream().filter(x -> recipe.isBase(x.entry())).findFirst().orElse(null);
    }

    /** The lead source's tensors of slice layer {@code offset}, in checkpoint order. */
    private List<TensorSource> layerTensors(OutputSlice.Source lead, int offset, OutputSlice s) {
        int layer = lead.from() + offset;
        InputModel m = input(lead).checkpoint();
        List<TensorSource> found = m.tensors().stream()
                .filter(t -> ParameterResolver.layerIndex(t.name()).equals(OptionalInt.of(layer)))
                .filter(t -> !InputTensors.isFp8Scale(m, t.name())).map(t -> (TensorSource) t).toList();
        if (found.isEmpty()) {
            int sourceIndex = s.sources().indexOf(lead);
            throw new MergestreamException(recipe.path() + ": " + s.keyPath() + ".sources[" + sourceIndex
                    + "].layer_range: model '" + lead.model() + "' has no layer " + layer + " (it has "
                    + Planner.countLayers(input(lead).checkpoint()) + ")");
        }
        return found;
    }

    /** The source's tensor for the lead's {@code leadName}: the same name at the source's own layer. */
    private TensorSource tensor(OutputSlice.Source src, String leadName, int offset) {
        String name = offset < 0 ? leadName : ParameterResolver.withLayerIndex(leadName, src.from() + offset);
        return planner.find(input(src), name);
    }

    private ModelInput input(OutputSlice.Source src) {
        return inputs.get(src.model());
    }

    /** Input embeddings (token, position, type), which precede the layers; everything else follows them. */
    static boolean isInputEmbedding(String name) {
        return name.contains("embed_tokens") || name.contains("word_embeddings") || name.contains("wte.")
                || name.contains("wpe.") || name.contains("embeddings.");
    }
}
