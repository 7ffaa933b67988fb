package io.mergestream.plan;

import io.mergestream.format.InputModel;

/**
 * A model of the recipe: as the recipe names it, and opened (a checkpoint, or a LoRA adapter over its base).
 * {@code checkpoint} keeps its historical name: it is any {@link InputModel}.
 */
public record ModelInput(String name, InputModel checkpoint) {}
