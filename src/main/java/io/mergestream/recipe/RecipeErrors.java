package io.mergestream.recipe;

import io.mergestream.MergestreamException;
import io.mergestream.Warnings;

/**
 * Builds the one-line recipe errors and warnings: {@code <recipe file>: <key path>: <problem>}. User text quoted
 * in a problem (a model name, a regex) may contain line breaks; they are flattened so the CLI prints one line.
 *
 * <p>Warnings are for what mergekit accepts but ignores (an unknown key, a parameter the method does not use):
 * mergestream reports each once and goes on; with {@code strict} (the CLI's {@code --strict}) the same text is an
 * error instead.
 *
 * @param strict  true to turn every warning into an error
 */
record RecipeErrors(String fileName, boolean strict) {

    RecipeErrors(String fileName) {
        this(fileName, false);
    }

    MergestreamException at(KeyPath path, String problem) {
        return new MergestreamException(line(path, problem));
    }

    /** Reports {@code problem} as a warning, or throws it as an error when strict. */
    void warn(KeyPath path, String problem) {
        if (strict) throw at(path, problem);
        Warnings.warn(line(path, problem));
    }

    private String line(KeyPath path, String problem) {
        String where = path.text().isEmpty() ? "" : path.text() + ": ";
        return oneLine(fileName + ": " + where + problem);
    }

    static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }
}
