package io.mergestream.recipe;

/**
 * Where a value sits in the recipe, written the way users read it: {@code models[1].parameters.density}.
 * Every recipe error names one, so the user can find the offending line without guessing.
 */
record KeyPath(String text) {

    static KeyPath root() {
        return new KeyPath("");
    }

    KeyPath key(String key) {
        return new KeyPath(text.isEmpty() ? key : text + "." + key);
    }

    KeyPath index(int index) {
        return new KeyPath(text + "[" + index + "]");
    }

    @Override
    public String toString() {
        return text;
    }
}
