package io.mergestream.plan;

import io.mergestream.format.Checkpoint;

/** A model of the recipe: as the recipe names it, and opened. */
public record ModelInput(String name, Checkpoint checkpoint) {}
