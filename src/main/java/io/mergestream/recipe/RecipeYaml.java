package io.mergestream.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.representer.Representer;
import org.yaml.snakeyaml.resolver.Resolver;

/**
 * Reads recipe text as PyYAML's {@code safe_load} (what mergekit uses) reads it, into a Jackson tree for
 * {@link RecipeParser}: YAML 1.1 scalars ({@code yes}/{@code no} are booleans; timestamps stay text), anchors and aliases
 * ({@code &x} / {@code *x}) and merge keys ({@code <<: *x}). Jackson's own YAML reader cannot be used for this:
 * it reads an alias {@code *x} as the string {@code "x"} and keeps {@code <<} as an ordinary key, so a recipe
 * with anchors would silently mean something else.
 *
 * <p>Aliases make a small text describe a huge tree ("billion laughs": ten aliases of ten aliases of ...).
 * SnakeYAML shares aliased nodes, so loading costs only the text's size; the tree given to the parser is
 * expanded, so expansion stops with a one-line error after {@value #MAX_VALUES} values, far more than any recipe
 * holds (a 100-slice recipe with parameters has a few thousand) and far less than 128 MB of heap can hold. A
 * structure that contains itself through an alias is refused too, and so is a key written twice (PyYAML would
 * keep the last one silently; it is almost always an editing slip).
 */
final class RecipeYaml {

    /** The most values (scalars, lists and mappings) an expanded recipe may hold. */
    static final int MAX_VALUES = 200_000;
    /** The longest recipe text, in code points: 3 MB, SnakeYAML's default. */
    static final int MAX_CODE_POINTS = 3 * 1024 * 1024;
    /**
     * Aliases of lists and mappings SnakeYAML accepts. Its default (50) would refuse an ordinary recipe that
     * refers to one anchored parameter block from each of 64 slices; the bomb is stopped by {@link #MAX_VALUES}.
     */
    private static final int MAX_COLLECTION_ALIASES = 10_000;
    private static final int MAX_NESTING = 100;

    private final RecipeErrors errors;
    private int values;

    private RecipeYaml(RecipeErrors errors) {
        this.errors = errors;
    }

    /** The document as a tree; null (or a null node) for an empty document. */
    static JsonNode read(String text, RecipeErrors errors) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setAllowRecursiveKeys(false);
        options.setMaxAliasesForCollections(MAX_COLLECTION_ALIASES);
        options.setNestingDepthLimit(MAX_NESTING);
        options.setCodePointLimit(MAX_CODE_POINTS);
        Object document;
        try {
            DumperOptions unused = new DumperOptions();
            document = new Yaml(new SafeConstructor(options), new Representer(unused), unused, options,
                    new WithoutTimestamps()).load(text);
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String line = mark == null ? "" : "line " + (mark.getLine() + 1) + ": ";
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
            throw errors.at(KeyPath.root(), line + "not valid YAML: " + problem);
        } catch (YAMLException e) {
            throw errors.at(KeyPath.root(), "not valid YAML: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            // SnakeYAML's Tag refuses some tags its scanner lets through (the text "!%e", a URI escape cut short,
            // found by RecipeFuzzTest) with this, not a YAMLException; PyYAML's safe_load raises a ScannerError
            throw errors.at(KeyPath.root(), "not valid YAML: " + e.getMessage());
        }
        return new RecipeYaml(errors).node(document, KeyPath.root(),
                Collections.newSetFromMap(new IdentityHashMap<>()), 0);
    }

    /**
     * YAML 1.1's implicit types but timestamps: PyYAML reads {@code 2024-01-01} as a date, which no recipe key
     * takes (mergekit then rejects the recipe); as text it can at least name a model directory.
     */
    private static final class WithoutTimestamps extends Resolver {
        @Override
        protected void addImplicitResolvers() {
            addImplicitResolver(Tag.BOOL, BOOL, "yYnNtTfFoO");
            addImplicitResolver(Tag.INT, INT, "-+0123456789");
            addImplicitResolver(Tag.FLOAT, FLOAT, "-+0123456789.");
            addImplicitResolver(Tag.MERGE, MERGE, "<");
            addImplicitResolver(Tag.NULL, NULL, "~nN\0");
            addImplicitResolver(Tag.NULL, EMPTY, null);
            addImplicitResolver(Tag.YAML, YAML, "!&*");
        }
    }

    /** {@code open}: the lists and mappings between the root and this value, to find one that contains itself. */
    private JsonNode node(Object value, KeyPath path, Set<Object> open, int depth) {
        if (depth > MAX_NESTING) {
            // aliases of aliases nest deeper than the text does; a chain of thousands would overflow the stack
            throw errors.at(path, "nests deeper than " + MAX_NESTING + " levels (through YAML aliases): refused");
        }
        if (++values > MAX_VALUES) {
            throw errors.at(KeyPath.root(), "the recipe expands to more than " + MAX_VALUES + " values through YAML"
                    + " aliases (*name), far more than any recipe holds: refused (an alias bomb?)");
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (value == null) return f.nullNode();
        if (value instanceof String s) return f.textNode(s);
        if (value instanceof Boolean b) return f.booleanNode(b);
        if (value instanceof Integer i) return f.numberNode(i);
        if (value instanceof Long l) return f.numberNode(l);
        if (value instanceof BigInteger b) return f.numberNode(b);
        if (value instanceof Double d) return f.numberNode(d);
        if (value instanceof Date d) return f.textNode(d.toInstant().toString());
        if (value instanceof byte[]) throw errors.at(path, "is a !!binary value, which no recipe key takes");
        if (value instanceof Map<?, ?> || value instanceof Collection<?> || value instanceof Object[]) {
            if (!open.add(value)) {
                throw errors.at(path, "contains itself through a YAML alias (*name): a recursive value is not a recipe");
            }
            try {
                return value instanceof Map<?, ?> map ? mapping(map, path, open, depth) : sequence(value, path, open, depth);
            } finally {
                open.remove(value);
            }
        }
        return f.textNode(String.valueOf(value));
    }

    private ObjectNode mapping(Map<?, ?> map, KeyPath path, Set<Object> open, int depth) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            // recipe keys are strings; PyYAML would read `1:` or `true:` as other types, pydantic then as text
            String key = String.valueOf(e.getKey());
            if (out.has(key)) throw errors.at(path.key(key), "is written twice (as '" + key + "' and as another type)");
            out.set(key, node(e.getValue(), path.key(key), open, depth + 1));
        }
        return out;
    }

    private ArrayNode sequence(Object list, KeyPath path, Set<Object> open, int depth) {
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        Iterable<?> items = list instanceof Object[] array ? java.util.Arrays.asList(array) : (Collection<?>) list;
        int i = 0;
        for (Object item : items) out.add(node(item, path.index(i++), open, depth + 1));
        return out;
    }
}
