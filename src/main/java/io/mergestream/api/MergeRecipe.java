package io.mergestream.api;

import io.mergestream.Warnings;
import io.mergestream.recipe.Recipe;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * A mergekit recipe: read from a YAML file or string, or built in code with {@link #builder(String)}. Either way
 * it is YAML text in the end, and the same parser validates it (a built recipe is written out as the YAML a user
 * would write, so there is one set of rules and one set of error messages, and the output's model card shows
 * the recipe as text). Each factory validates the recipe at once (leniently: what mergekit ignores is accepted
 * here and warned about when the merge is made, where {@link MergeOptions} says how strict to be and where the
 * warnings go) and throws {@link BadRecipeException} naming the key path of the first problem.
 *
 * <p>Relative model paths are resolved against the recipe file's directory, as the command line does; a recipe
 * given as a string or built in code names a file (that need not exist) for that and for its messages.
 */
public final class MergeRecipe {

    private final String yaml;
    private final Path file;

    private MergeRecipe(String yaml, Path file) {
        this.yaml = yaml;
        this.file = file;
        // validated now, so that a bad recipe fails where it is made; warnings are for the merge (see class doc)
        Failures.recipe(() -> Warnings.during(message -> { }, () -> Recipe.parse(yaml, file, false)));
    }

    /**
     * Reads and validates a recipe file (a regular file of at most 16 MB).
     *
     * @param file the recipe; relative model paths in it are resolved against its directory
     * @return the recipe
     * @throws BadRecipeException when the file breaks a recipe rule or cannot be read as one
     */
    public static MergeRecipe fromFile(Path file) {
        Objects.requireNonNull(file, "file");
        Recipe r = Failures.recipe(() -> Warnings.during(message -> { }, () -> Recipe.load(file, false)));
        return new MergeRecipe(r.yaml(), file);
    }

    /**
     * Validates recipe text as if it were read from {@code file}.
     *
     * @param yaml the recipe text
     * @param file the name used in messages, whose directory anchors relative model paths (need not exist)
     * @return the recipe
     * @throws BadRecipeException when the text breaks a recipe rule
     */
    public static MergeRecipe fromYaml(String yaml, Path file) {
        return new MergeRecipe(Objects.requireNonNull(yaml, "yaml"), Objects.requireNonNull(file, "file"));
    }

    /**
     * Validates recipe text whose relative model paths are relative to the current directory; messages name it
     * {@code recipe.yml}.
     *
     * @param yaml the recipe text
     * @return the recipe
     * @throws BadRecipeException when the text breaks a recipe rule
     */
    public static MergeRecipe fromYaml(String yaml) {
        return fromYaml(yaml, Path.of("recipe.yml"));
    }

    /**
     * Starts a recipe in code.
     *
     * @param method the {@code merge_method}, e.g. {@code "dare_ties"}, {@code "linear"}, {@code "slerp"}
     * @return a builder
     */
    public static Builder builder(String method) {
        return new Builder(method);
    }

    /**
     * The recipe's YAML text (as read, or as the builder wrote it).
     *
     * @return the recipe's YAML text (as read, or as the builder wrote it)
     */
    public String yaml() {
        return yaml;
    }

    /**
     * The file the recipe was read from, or the name given to its text.
     *
     * @return the file the recipe was read from, or the name given to its text
     */
    public Path file() {
        return file;
    }

    /** The recipe as the internal layers read it: parsed again, with the merge's strictness and warnings. */
    Recipe parse(boolean strict) {
        return Recipe.parse(yaml, file, strict);
    }

    @Override
    public String toString() {
        return yaml;
    }

    // ---- values for parameters ------------------------------------------------------------------------------

    /**
     * A gradient: values interpolated over the layers (mergekit's list form of a parameter), e.g.
     * {@code gradient(0.0, 0.5, 1.0)}.
     *
     * @param values the anchor values, first to last layer
     * @return the parameter value
     */
    public static List<Double> gradient(double... values) {
        List<Double> list = new ArrayList<>(values.length);
        for (double v : values) list.add(v);
        return List.copyOf(list);
    }

    /**
     * One entry of a filtered parameter: {@code value} for tensors whose name contains {@code filter} (mergekit's
     * {@code - filter: self_attn} entries). Give a list of these, usually ending with {@link #otherwise(Object)}.
     *
     * @param filter the substring of tensor names
     * @param value  a number, a boolean or a gradient
     * @return the entry
     */
    public static Map<String, Object> filter(String filter, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("filter", Objects.requireNonNull(filter, "filter"));
        m.put("value", Objects.requireNonNull(value, "value"));
        return m;
    }

    /**
     * The entry of a filtered parameter that applies to every tensor no earlier filter matched.
     *
     * @param value a number, a boolean or a gradient
     * @return the entry
     */
    public static Map<String, Object> otherwise(Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("value", Objects.requireNonNull(value, "value"));
        return m;
    }

    /**
     * A source of a slice: layers {@code [from, to)} of {@code model}.
     *
     * @param model      a model path or Hugging Face id
     * @param from       the first layer
     * @param to         one past the last layer
     * @param parameters the source's own parameters (may be empty)
     * @return the source
     */
    public static Map<String, Object> source(String model, int from, int to, Map<String, ?> parameters) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", Objects.requireNonNull(model, "model"));
        m.put("layer_range", List.of(from, to));
        if (!parameters.isEmpty()) m.put("parameters", parameters);
        return m;
    }

    /**
     * Builds a recipe in code: the keys of a mergekit recipe, each set at most once (a later call replaces an
     * earlier one, except {@link #model} and {@link #slice}, which add). Parameter values are numbers, booleans,
     * strings, {@link #gradient gradients} and lists of {@link #filter filter} entries.
     */
    public static final class Builder {
        private final Map<String, Object> root = new LinkedHashMap<>();
        private final List<Object> models = new ArrayList<>();
        private final List<Object> slices = new ArrayList<>();
        private final Map<String, Object> parameters = new LinkedHashMap<>();
        private Path file = Path.of("recipe.yml");

        private Builder(String method) {
            root.put("merge_method", Objects.requireNonNull(method, "method"));
        }

        /**
         * Sets the {@code base_model}.
         *
         * @param model the {@code base_model}: a path or a Hugging Face id
         * @return this builder
         */
        public Builder base(String model) {
            root.put("base_model", Objects.requireNonNull(model, "model"));
            return this;
        }

        /**
         * Adds a model without parameters of its own.
         *
         * @param model a path or a Hugging Face id
         * @return this builder
         */
        public Builder model(String model) {
            return model(model, Map.of());
        }

        /**
         * Adds a model with its own parameters (e.g. {@code weight}, {@code density}).
         *
         * @param model      a path or a Hugging Face id
         * @param parameters the model's parameters, in the order given
         * @return this builder
         */
        public Builder model(String model, Map<String, ?> parameters) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("model", Objects.requireNonNull(model, "model"));
            if (!parameters.isEmpty()) entry.put("parameters", parameters);
            models.add(entry);
            return this;
        }

        /**
         * Adds a slice: sources merged layer range by layer range (instead of {@code models}).
         *
         * @param sources the slice's sources, see {@link MergeRecipe#source}
         * @return this builder
         */
        @SafeVarargs
        public final Builder slice(Map<String, Object>... sources) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("sources", List.of(sources));
            slices.add(s);
            return this;
        }

        /**
         * Sets a global parameter (the recipe's {@code parameters:} block).
         *
         * @param name  e.g. {@code normalize}, {@code t}, {@code weight}
         * @param value a number, boolean, string, gradient or list of filter entries
         * @return this builder
         */
        public Builder parameter(String name, Object value) {
            parameters.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Sets the {@code dtype}.
         *
         * @param dtype the {@code dtype} computations read the inputs as, e.g. {@code bfloat16}
         * @return this builder
         */
        public Builder dtype(String dtype) {
            root.put("dtype", Objects.requireNonNull(dtype, "dtype"));
            return this;
        }

        /**
         * Sets the {@code out_dtype}.
         *
         * @param dtype the {@code out_dtype} of the output tensors
         * @return this builder
         */
        public Builder outDtype(String dtype) {
            root.put("out_dtype", Objects.requireNonNull(dtype, "dtype"));
            return this;
        }

        /**
         * Sets the {@code tokenizer_source}.
         *
         * @param source {@code tokenizer_source}: {@code base}, {@code union} or a model
         * @return this builder
         */
        public Builder tokenizerSource(String source) {
            root.put("tokenizer_source", Objects.requireNonNull(source, "source"));
            return this;
        }

        /**
         * Sets the {@code chat_template}.
         *
         * @param template {@code chat_template}: {@code auto}, a built-in template's name or a Jinja template
         * @return this builder
         */
        public Builder chatTemplate(String template) {
            root.put("chat_template", Objects.requireNonNull(template, "template"));
            return this;
        }

        /**
         * Sets the {@code seed}.
         *
         * @param seed the DARE mask seed (an unsigned 64-bit value in a long's bits)
         * @return this builder
         */
        public Builder seed(long seed) {
            root.put("seed", new BigInteger(Long.toUnsignedString(seed)));
            return this;
        }

        /**
         * Sets the {@code exclude} patterns.
         *
         * @param patterns regexes anchored at the start of tensor names: those tensors are the base's own
         * @return this builder
         */
        public Builder exclude(String... patterns) {
            root.put("exclude", List.of(patterns));
            return this;
        }

        /**
         * Sets the recipe's file name.
         *
         * @param file the name used in messages, whose directory anchors relative model paths (default
         *             {@code recipe.yml} in the current directory; need not exist)
         * @return this builder
         */
        public Builder file(Path file) {
            this.file = Objects.requireNonNull(file, "file");
            return this;
        }

        /**
         * Writes the recipe as YAML and validates it.
         *
         * @return the recipe
         * @throws BadRecipeException when it breaks a recipe rule (the message names the key path)
         * @throws IllegalArgumentException when a value is of a Java type a recipe cannot hold
         */
        public MergeRecipe build() {
            Map<String, Object> doc = new LinkedHashMap<>(root);
            if (!models.isEmpty()) doc.put("models", models);
            if (!slices.isEmpty()) doc.put("slices", slices);
            if (!parameters.isEmpty()) doc.put("parameters", parameters);
            DumperOptions options = new DumperOptions();
            options.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
            options.setWidth(Integer.MAX_VALUE);
            String yaml = new Yaml(options).dump(plain(doc));
            return new MergeRecipe(yaml, file);
        }

        /** The value as plain YAML data: maps, lists, strings, booleans and numbers YAML writes without tags. */
        private static Object plain(Object v) {
            return switch (v) {
                case null -> throw new IllegalArgumentException("a recipe value is null");
                case Map<?, ?> m -> {
                    Map<String, Object> out = new LinkedHashMap<>();
                    m.forEach((k, x) -> out.put(String.valueOf(k), plain(x)));
                    yield out;
                }
                case List<?> l -> l.stream().map(Builder::plain).toList();
                case double[] a -> plain(gradient(a));
                case String s -> s;
                case Boolean b -> b;
                case Integer i -> i;
                case Long l -> l;
                case Short s -> s.intValue();
                case Byte b -> b.intValue();
                case Double d -> d;
                case Float f -> Double.parseDouble(f.toString());
                case BigInteger b -> b;
                case BigDecimal d -> d.doubleValue();
                default -> throw new IllegalArgumentException("a recipe value cannot be a " + v.getClass().getName()
                        + " (numbers, booleans, strings, lists and maps)");
            };
        }
    }
}
