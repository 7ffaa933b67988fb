package io.mergestream.recipe;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * One {@code parameters:} block (a model's or the recipe's global one), in recipe order.
 *
 * @param settings  by parameter name
 * @param keyPath   where the block sits, e.g. {@code models[2].parameters}, for error messages
 */
public record Parameters(Map<String, Setting> settings, String keyPath) {

    public Parameters {
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    public static Parameters none(String keyPath) {
        return new Parameters(Map.of(), keyPath);
    }

    public Optional<Setting> get(String name) {
        return Optional.ofNullable(settings.get(name));
    }

    public boolean isEmpty() {
        return settings.isEmpty();
    }
}
