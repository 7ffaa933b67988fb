package io.mergestream.recipe;

/**
 * One entry of the recipe's {@code models:} list.
 *
 * @param model       the model reference exactly as written (a local path or a hub name)
 * @param parameters  the entry's own parameters (empty when it has none, e.g. the base listed in models)
 */
public record ModelEntry(String model, Parameters parameters) {}
