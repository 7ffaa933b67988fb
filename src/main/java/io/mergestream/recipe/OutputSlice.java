package io.mergestream.recipe;

import java.util.List;
import java.util.Optional;

/**
 * One entry of mergekit's {@code slices:}: a run of output layers, each merged (with the recipe's method) from
 * the corresponding layer of every source. All sources span the same number of layers.
 *
 * @param sources     in recipe order
 * @param keyPath     where the slice sits, e.g. {@code slices[1]}, for error messages
 * @param baseModel   the slice's own {@code base_model}, which replaces the recipe's for this slice (mergekit)
 * @param parameters  the slice's {@code parameters:}, consulted after a source's own and before the top-level ones
 */
public record OutputSlice(List<Source> sources, String keyPath, Optional<String> baseModel, Parameters parameters) {

    /**
     * One {@code sources:} entry: layers {@code [from, to)} of a model, with the model's parameters for them.
     *
     * @param entry  the model and its {@code parameters:} (resolved as a {@code models:} entry's would be)
     */
    public record Source(ModelEntry entry, int from, int to) {
        public String model() {
            return entry.model();
        }

        public int layers() {
            return to - from;
        }
    }

    public OutputSlice {
        sources = List.copyOf(sources);
    }

    /** A slice without a base model or parameters of its own. */
    public OutputSlice(List<Source> sources, String keyPath) {
        this(sources, keyPath, Optional.empty(), Parameters.none(keyPath + ".parameters"));
    }

    /** The number of output layers this slice gives. */
    public int layers() {
        return sources.get(0).layers();
    }

    public List<ModelEntry> entries() {
        return sources.stream().map(Source::entry).toList();
    }
}
