package io.mergestream.api;

/**
 * The recipe breaks a rule: a YAML syntax error, an unknown method, a parameter of the wrong type or out of range,
 * a missing base model; with {@link MergeOptions.Builder#strict(boolean) strict}, also what mergekit would ignore.
 * The message names the recipe (its file, or the name given to its text) and the key path, e.g.
 * {@code recipe.yml: models[1].parameters.weight: must be a number}.
 */
public final class BadRecipeException extends BadInputException {

    private static final long serialVersionUID = 1L;

    BadRecipeException(String message, Throwable cause) {
        super(message, cause);
    }
}
