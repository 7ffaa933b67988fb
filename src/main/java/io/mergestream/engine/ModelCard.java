package io.mergestream.engine;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.mergestream.Warnings;
import io.mergestream.format.HubCache;
import io.mergestream.format.pack.PackHeader;
import io.mergestream.method.TensorParams;
import io.mergestream.plan.DarePlanner;
import io.mergestream.plan.MergePlan;
import io.mergestream.plan.ModelInput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * The output's {@code README.md}, a Hugging Face model card, and the recipe itself as {@code mergekit_config.yml}
 * (the name the Hub and mergekit's tooling look for), so that anyone can reproduce the merge bit for bit.
 *
 * <p>The card's front matter is what the Hub reads, written with a YAML library so that no value (a licence
 * copied from another card, say) can add keys: {@code base_model} lists the inputs that came from the Hugging
 * Face cache by their repo ids, as mergekit lists its hub models (local directories are named in the text only:
 * the Hub would link a path to nothing); {@code library_name: transformers}; {@code license} (with
 * {@code license_name} / {@code license_link} for {@code other}) taken over from the base's own card when it has
 * one; {@code tags}. The title is the output directory's name, as mergekit's.
 *
 * <p>A run without a recipe (a plan whose recipe is null, e.g. {@code mergestream dare}) passes an
 * {@link Operation} instead: the card then shows its description and the command line that reproduces it, and
 * no recipe file is written.
 */
public record ModelCard(String version, Operation operation) {

    public static final String RECIPE_FILE = "mergekit_config.yml";
    public static final List<String> TAGS = List.of("merge", "mergekit", "mergestream");

    private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            // plain scalars where YAML reads them back as the same string; SnakeYAML's emitter quotes the rest
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            .build());

    /** A recipe-less run: a title, what it computes (Markdown) and the command that reproduces it. */
    public record Operation(String title, String description, String commandLine) {

        /** {@code mergestream dare} of {@code r} into {@code out}. */
        public static Operation dare(DarePlanner.Request r, Path out) {
            double rho = r.density();
            String how = r.strategy() == DarePlanner.Strategy.RANDOM
                    ? "each delta element kept with probability " + rho + " by the DARE keep-mask (dare-mask v1, model ordinal 0)"
                    : "the floor(" + rho + " * n) largest |delta| of each tensor kept (ties to the lowest index)";
            StringBuilder d = new StringBuilder();
            if (r.target() == DarePlanner.Target.WEIGHTS) {
                d.append("Every float tensor is `sparsify(model)`: the fine-tuned weights themselves (not the delta), ")
                        .append(how.replace("delta", "weight"))
                        .append(", the rest set to 0; kept weights ").append(switch (r.rescale()) {
                            case NONE -> "are not rescaled.";
                            case INVERSE -> "are divided by " + rho + ".";
                            case L1 -> "are scaled so that each tensor keeps its L1 norm.";
                        });
            } else {
                d.append("Every tensor is `base + sparsify(model - base)`: ").append(how)
                        .append(", the rest dropped; kept deltas ").append(switch (r.rescale()) {
                            case NONE -> "are not rescaled.";
                            case INVERSE -> "are divided by " + rho + ".";
                            case L1 -> "are scaled so that each tensor's kept delta has the L1 norm of its whole delta.";
                        });
                if (!r.exclude().isEmpty()) {
                    d.append(" Tensors matching ").append(String.join(", ", r.exclude().stream()
                            .map(e -> "`" + e.pattern() + "`").toList())).append(" are the fine-tune's own, unchanged.");
                }
            }
            StringBuilder cmd = new StringBuilder("mergestream dare")
                    .append(r.base() == null ? " --target weights" : " --base " + r.base())
                    .append(" --model ").append(r.model()).append(" --density ").append(rho)
                    .append(" --strategy ").append(r.strategy().name().toLowerCase(java.util.Locale.ROOT));
            if (r.rescale() != TensorParams.Rescale.INVERSE) cmd.append(" --rescale ").append(r.rescale().word());
            for (var e : r.exclude()) cmd.append(" --exclude '").append(e.pattern()).append('\'');
            cmd.append(" --seed ").append(Long.toUnsignedString(r.seed())).append(" -o ").append(out.getFileName());
            return new Operation("DARE of " + r.model().toAbsolutePath().normalize().getFileName(), d.toString(),
                    cmd.toString());
        }

        /** {@code mergestream convert} of {@code model} into {@code out}. */
        public static Operation convert(Path model, Path out) {
            String name = model.toAbsolutePath().normalize().getFileName().toString();
            return new Operation("Conversion of " + name,
                    "Every tensor of `" + name + "` copied unchanged (name, dtype, shape and bytes) into safetensors.",
                    "mergestream convert " + model + " -o " + out.getFileName());
        }

        /**
         * {@code mergestream apply} of the pack {@code h} heads over {@code base} into {@code out}; {@code rescale} is
         * the rule given instead of the pack's own, or null.
         */
        public static Operation apply(Path base, Path pack, PackHeader h, String rescale, Path out) {
            String rule = rescale != null ? rescale : h.rescale();
            return new Operation("DARE of " + h.model() + " (from a delta pack)",
                    "Every tensor is `base + sparsify(model - base)` as `mergestream dare` computes it: " + h.strategy().word()
                            + " strategy, density " + h.density() + ", seed " + Long.toUnsignedString(h.seed())
                            + ", model ordinal " + h.ordinal() + ", rescale " + rule + ", read from the delta pack "
                            + pack.getFileName() + ".",
                    "mergestream apply --base " + base + " " + pack + (rescale == null ? "" : " --rescale " + rule)
                            + " -o " + out.getFileName());
        }
    }

    /** This build's version, from the jar manifest ({@code dev} when run from classes). */
    public static String currentVersion() {
        String v = ModelCard.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    public ModelCard(String version) {
        this(version, null);
    }

    /** Writes the card into {@code dir}, titled by {@code dir}'s name. */
    public void write(Path dir, MergePlan plan) {
        write(dir, plan, dir);
    }

    /**
     * Writes the card into {@code dir} (the staging directory) for the output that will be {@code out}, whose name
     * is the card's title.
     */
    public void write(Path dir, MergePlan plan, Path out) {
        if (plan.recipe() == null) {
            if (operation == null) throw new IllegalArgumentException("a plan without a recipe needs an Operation");
            writeOperation(dir, plan);
            return;
        }
        List<ModelInput> inputs = inputs(plan);
        StringBuilder md = new StringBuilder();
        md.append(frontMatter(plan, inputs, TAGS));
        md.append("# ").append(title(out)).append("\n\nThis model was merged with mergestream ").append(version)
                .append(" using the `").append(plan.method().name()).append("` method");
        if (plan.base() != null) md.append(" with ").append(describe(plan.base())).append(" as the base");
        md.append(", seed ").append(Long.toUnsignedString(plan.seed())).append(" (DARE mask: dare-mask v1).\n\n")
                .append("## Models\n\n");
        models(md, plan);
        md.append("\n## Recipe\n\n```yaml\n").append(plan.recipe().yaml().strip()).append("\n```\n\n")
                .append("Seed used: ").append(Long.toUnsignedString(plan.seed()))
                .append(" (it overrides any `seed` in the recipe above).\n");
        try {
            Files.writeString(dir.resolve("README.md"), md, StandardCharsets.UTF_8);
            Files.writeString(dir.resolve(RECIPE_FILE), plan.recipe().yaml(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the model card in " + dir + ": " + e.getMessage(), e);
        }
    }

    private void writeOperation(Path dir, MergePlan plan) {
        StringBuilder md = new StringBuilder();
        md.append(frontMatter(plan, inputs(plan), List.of("mergestream", plan.method().name())));
        md.append("# ").append(operation.title()).append("\n\nThis model was written by mergestream ").append(version)
                .append(" using the `").append(plan.method().name()).append("` operation, seed ")
                .append(Long.toUnsignedString(plan.seed())).append(" (DARE mask: dare-mask v1).\n\n");
        md.append(operation.description().strip()).append("\n\n## Models\n\n");
        models(md, plan);
        md.append("\n## Reproduce\n\n```\n").append(operation.commandLine().strip()).append("\n```\n");
        try {
            Files.writeString(dir.resolve("README.md"), md, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the model card in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void models(StringBuilder md, MergePlan plan) {
        if (plan.base() != null) md.append("- base: ").append(describe(plan.base())).append('\n');
        for (ModelInput m : plan.fineTunes()) {
            if (plan.base() == null || !m.name().equals(plan.base().name())) md.append("- ").append(describe(m)).append('\n');
        }
    }

    /** Every input once, the base first, as the recipe names them. */
    private static List<ModelInput> inputs(MergePlan plan) {
        List<ModelInput> all = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        if (plan.base() != null && seen.add(plan.base().name())) all.add(plan.base());
        for (ModelInput m : plan.fineTunes()) if (seen.add(m.name())) all.add(m);
        return all;
    }

    /** A hub model as a link to its page (with the revision the recipe named); a local directory as written. */
    private static String describe(ModelInput m) {
        Optional<String> id = HubCache.repoIdOf(m.checkpoint().location());
        if (id.isEmpty()) return "`" + m.name() + "` (local directory)";
        String link = "[" + id.get() + "](https://huggingface.co/" + id.get() + ")";
        String commit = m.checkpoint().location().toAbsolutePath().normalize().getFileName().toString();
        return m.name().equals(id.get()) ? link + " (commit " + commit + ")"
                : link + " as `" + m.name() + "` (commit " + commit + ")";
    }

    private static String title(Path out) {
        Path name = out.toAbsolutePath().normalize().getFileName();
        return name == null ? "Merged model" : name.toString();
    }

    /** The YAML front matter between {@code ---} lines. */
    static String frontMatter(MergePlan plan, List<ModelInput> inputs, List<String> tags) {
        ObjectNode meta = YAML.createObjectNode();
        LinkedHashSet<String> hubIds = new LinkedHashSet<>();
        for (ModelInput m : inputs) HubCache.repoIdOf(m.checkpoint().location()).ifPresent(hubIds::add);
        if (!hubIds.isEmpty()) {
            var list = meta.putArray("base_model");
            hubIds.forEach(list::add);
        }
        meta.put("library_name", "transformers");
        Path baseDir = plan.base() != null ? plan.base().checkpoint().location() : plan.configSource();
        licence(baseDir).ifPresent(l -> meta.setAll(l));
        var t = meta.putArray("tags");
        tags.forEach(t::add);
        try {
            return "---\n" + YAML.writeValueAsString(meta) + "---\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * {@code license} (and for {@code other} its {@code license_name} and {@code license_link}) from the front
     * matter of the base's {@code README.md}; only string values, each kept as one value.
     */
    static Optional<ObjectNode> licence(Path baseDir) {
        if (baseDir == null) return Optional.empty();
        Path readme = baseDir.resolve("README.md");
        if (!Files.isRegularFile(readme)) return Optional.empty();
        Optional<JsonNode> front;
        try {
            front = parseFrontMatter(Files.readString(readme, StandardCharsets.UTF_8));
        } catch (IOException e) {
            Warnings.warn(readme + ": cannot read the base's model card for its licence: " + e.getMessage());
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            Warnings.warn(readme + ": the base's model card has no readable YAML front matter (" + e.getMessage()
                    + "); the output's card names no licence");
            return Optional.empty();
        }
        if (front.isEmpty() || !front.get().path("license").isTextual()) return Optional.empty();
        ObjectNode l = YAML.createObjectNode();
        l.put("license", front.get().get("license").asText());
        for (String k : List.of("license_name", "license_link")) {
            if (front.get().path(k).isTextual()) l.put(k, front.get().get(k).asText());
        }
        return Optional.of(l);
    }

    /**
     * The string values at the top of the YAML between a leading {@code ---} line and the next {@code ---} line
     * (as text nodes), or empty when there is none. Read as the Hub's tools read a card ({@code huggingface_hub}
     * uses PyYAML's {@code safe_load}): SnakeYAML with the safe constructor, so an alias {@code *x} is the value
     * anchored as {@code &x} and an undefined one is an error (Jackson's YAML reader takes {@code *x} for the
     * string "x": {@code x: &a mit} then {@code license: *a} read as the licence "a"). Values that are not
     * strings (numbers, dates, lists, a list containing itself) are left out: only strings are copied.
     */
    static Optional<JsonNode> parseFrontMatter(String card) {
        String text = card.startsWith("\uFEFF") ? card.substring(1) : card;
        List<String> lines = text.lines().toList();
        if (lines.isEmpty() || !lines.get(0).strip().equals("---")) return Optional.empty();
        int end = -1;
        for (int i = 1; i < lines.size() && end < 0; i++) if (lines.get(i).strip().equals("---")) end = i;
        if (end < 0) throw new IllegalArgumentException("no closing --- line");
        Object document;
        try {
            // SnakeYAML's default limits (aliases of collections, nesting, 3 MB) bound what a card can cost
            document = new Yaml(new SafeConstructor(new LoaderOptions())).load(String.join("\n", lines.subList(1, end)));
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            throw new IllegalArgumentException((mark == null ? "" : "line " + (mark.getLine() + 2) + ": ")
                    + (e.getProblem() != null ? e.getProblem() : e.getMessage()));
        } catch (YAMLException e) {
            throw new IllegalArgumentException(e.getMessage().lines().findFirst().orElse("invalid YAML"));
        }
        if (!(document instanceof Map<?, ?> map)) return Optional.empty();
        ObjectNode strings = YAML.createObjectNode();
        map.forEach((k, v) -> {
            if (k instanceof String key && v instanceof String value) strings.put(key, value);
        });
        return Optional.of(strings);
    }
}
