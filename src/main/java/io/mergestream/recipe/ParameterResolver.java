package io.mergestream.recipe;

import io.mergestream.recipe.ParameterDef.Type;
import io.mergestream.recipe.Setting.Leaf;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Resolves parameters for one tensor the way mergekit does: the model's own {@code parameters:} first, then
 * (in a slice) the slice's {@code parameters:}, then the recipe's global {@code parameters:}, then the method's
 * default. At each level a list of conditions
 * that has no match for the tensor falls through to the next level. Obtain one from
 * {@link Recipe#parametersFor(ModelEntry)} (per-model parameters) or {@link Recipe#mergeParameters()}.
 *
 * <p>Gradients: layer {@code l} of {@code L} is at {@code t = l/(L−1)} ({@code t = 0} when {@code L = 1});
 * tensors outside the layers (embeddings, final norm, lm_head) take the list's first value (t = 0).
 */
public final class ParameterResolver {

    /** {@code .layers.N.} (Llama, Mistral, Qwen), {@code .layer.N.} (BERT), {@code .h.N.} (GPT-2), {@code .blocks.N.}. */
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks)\\.(\\d{1,9})\\.");

    private final MethodSpec method;
    private final Optional<ModelEntry> model;
    /** The blocks consulted after the model's own, in order: a slice's {@code parameters:}, then the top-level. */
    private final List<Parameters> levels;
    private final RecipeErrors errors;

    ParameterResolver(MethodSpec method, Optional<ModelEntry> model, Parameters global, RecipeErrors errors) {
        this(method, model, List.of(global), errors);
    }

    ParameterResolver(MethodSpec method, Optional<ModelEntry> model, List<Parameters> levels, RecipeErrors errors) {
        this.method = method;
        this.model = model;
        this.levels = List.copyOf(levels);
        this.errors = errors;
    }

    /** A number for a tensor whose layer the caller already knows (or that has none). */
    public double resolveNumber(String param, String tensorName, OptionalInt layer, int numLayers) {
        return resolveNumberAt(param, tensorName, gradientPosition(layer, numLayers));
    }

    /** A number for a tensor at gradient position {@code t} in [0, 1] (a layer's place in its model or slice). */
    public double resolveNumberAt(String param, String tensorName, double t) {
        return switch (resolve(param, Type.NUMBER, tensorName)) {
            case Setting.Scalar s -> s.value();
            case Setting.Gradient g -> g.at(t);
            case Leaf other -> throw new IllegalStateException("number parameter " + param + " holds " + other);
        };
    }

    /** A number, finding the tensor's layer by {@link #layerIndex(String)}. */
    public double resolveNumber(String param, String tensorName, int numLayers) {
        return resolveNumber(param, tensorName, layerIndex(tensorName), numLayers);
    }

    /** Booleans ({@code normalize}, {@code rescale}) take no gradients, so the layer does not matter. */
    public boolean resolveBoolean(String param, String tensorName) {
        if (resolve(param, Type.BOOLEAN, tensorName) instanceof Setting.Flag f) return f.value();
        throw new IllegalStateException("boolean parameter " + param + " holds a non-boolean");
    }

    /**
     * A flag that may also be a word ({@code rescale: true | false | l1}): "true", "false" or the word.
     */
    public String resolveFlagOrWord(String param, String tensorName) {
        return switch (resolve(param, Type.BOOLEAN, tensorName)) {
            case Setting.Flag f -> Boolean.toString(f.value());
            case Setting.Word w -> w.value();
            case Leaf other -> throw new IllegalStateException("flag parameter " + param + " holds " + other);
        };
    }

    /** A string choice such as {@code sign_election}. */
    public String resolveChoice(String param, String tensorName) {
        if (resolve(param, Type.CHOICE, tensorName) instanceof Setting.Word w) return w.value();
        throw new IllegalStateException("choice parameter " + param + " holds a non-word");
    }

    /** The layer index of a tensor, or empty for tensors outside the repeated blocks. */
    public static OptionalInt layerIndex(String tensorName) {
        Matcher m = LAYER.matcher(tensorName);
        return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }

    /** The tensor's name after its layer prefix ({@code self_attn.q_proj.weight}), or the whole name outside layers. */
    public static String withoutLayerPrefix(String tensorName) {
        Matcher m = LAYER.matcher(tensorName);
        return m.find() ? tensorName.substring(m.end()) : tensorName;
    }

    /** The tensor's name with its layer index replaced by {@code layer}; the name must have one. */
    public static String withLayerIndex(String tensorName, int layer) {
        Matcher m = LAYER.matcher(tensorName);
        if (!m.find()) throw new IllegalArgumentException("'" + tensorName + "' has no layer index");
        return tensorName.substring(0, m.start(1)) + layer + tensorName.substring(m.end(1));
    }

    /** The gradient position t in [0, 1] of a layer among {@code numLayers}; 0 for non-layer tensors. */
    public static double gradientPosition(OptionalInt layer, int numLayers) {
        if (layer.isEmpty()) return 0;
        int l = layer.getAsInt();
        if (l < 0 || l >= numLayers) {
            throw new IllegalArgumentException("layer " + l + " is outside 0.." + (numLayers - 1));
        }
        return numLayers == 1 ? 0 : (double) l / (numLayers - 1);
    }

    private Leaf resolve(String param, Type expected, String tensorName) {
        ParameterDef def = method.parameter(param).orElseThrow(() -> new IllegalArgumentException(
                param + " is not a parameter of " + method.name()));
        if (def.type() != expected) {
            throw new IllegalArgumentException(param + " is a " + def.type() + " parameter, not " + expected);
        }
        Optional<Leaf> own = model.filter(m -> method.isModelParameter(param))
                .flatMap(m -> m.parameters().get(param))
                .flatMap(s -> s.select(tensorName));
        if (own.isPresent()) return own.get();
        for (Parameters level : levels) {
            Optional<Leaf> value = level.get(param).flatMap(s -> s.select(tensorName));
            if (value.isPresent()) return value.get();
        }
        return def.defaultValue().orElseThrow(() -> missing(param, tensorName));
    }

    private RuntimeException missing(String param, String tensorName) {
        Parameters where = model.map(ModelEntry::parameters).orElse(levels.get(levels.size() - 1));
        String who = model.map(m -> "model '" + m.model() + "' has ").orElse("there is ");
        return errors.at(new KeyPath(where.keyPath()).key(param),
                who + "no " + param + " for tensor '" + tensorName + "' (" + param
                        + " is required: add an entry without filter as the default)");
    }
}
