package io.mergestream.recipe;

import io.mergestream.MergestreamException;

/**
 * Builds the one-line recipe errors: {@code <recipe file>: <key path>: <problem>}. User text quoted in a
 * problem (a model name, a regex) may contain line breaks; they are flattened so the CLI prints one line.
 */
record RecipeErrors(String fileName) {

    MergestreamException at(KeyPath path, String problem) {
        String where = path.text().isEmpty() ? "" : path.text() + ": ";
        return new MergestreamException(oneLine(fileName + ": " + where + problem));
    }

    static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }
}
