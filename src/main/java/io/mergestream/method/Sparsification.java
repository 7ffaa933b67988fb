package io.mergestream.method;

/**
 * How a member of the task-arithmetic family drops delta elements (merge-semantics.md, "Sparsifiers"). The
 * recipe's method table ({@code recipe.MethodCatalog}) names one per method; {@link TaskArithmeticFamily} runs it.
 */
public enum Sparsification { NONE, RANDOM, MAGNITUDE, MAGNITUDE_OUTLIERS, DELLA_MAGPRUNE }
