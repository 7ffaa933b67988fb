package io.mergestream.engine;

import io.mergestream.plan.MergePlan;
import io.mergestream.plan.ModelInput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The output's {@code README.md} (a Hugging Face model card: YAML front matter, then what was merged, how,
 * with which seed and version) and the recipe itself as {@code mergestream_config.yml}, so that anyone can
 * reproduce the merge bit for bit. A run without a recipe (a plan whose recipe is null, e.g.
 * {@code mergestream dare}) passes an {@link Operation} instead: the card then shows its description and the
 * command line that reproduces it, and no recipe file is written.
 */
public record ModelCard(String version, Operation operation) {

    public static final String RECIPE_FILE = "mergestream_config.yml";

    /** A recipe-less run: a title, what it computes (Markdown) and the command that reproduces it. */
    public record Operation(String title, String description, String commandLine) {}

    public ModelCard(String version) {
        this(version, null);
    }

    public void write(Path dir, MergePlan plan) {
        if (plan.recipe() == null) {
            if (operation == null) throw new IllegalArgumentException("a plan without a recipe needs an Operation");
            writeOperation(dir, plan);
            return;
        }
        StringBuilder md = new StringBuilder();
        md.append("---\n");
        if (plan.base() != null) md.append("base_model: ").append(yamlString(plan.base().name())).append('\n');
        md.append("library_name: transformers\ntags:\n- mergestream\n- merge\n---\n");
        md.append("# ").append(plan.recipe().path().getFileName().toString().replaceFirst("\\.ya?ml$", ""))
                .append("\n\nThis model was merged with mergestream ").append(version).append(" using the `")
                .append(plan.method().name()).append("` method, seed ").append(Long.toUnsignedString(plan.seed()))
                .append(" (DARE mask: dare-mask v1).\n\n## Models\n\n");
        if (plan.base() != null) md.append("- base: `").append(plan.base().name()).append("`\n");
        for (ModelInput m : plan.fineTunes()) md.append("- `").append(m.name()).append("`\n");
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
        md.append("---\n");
        if (plan.base() != null) md.append("base_model: ").append(yamlString(plan.base().name())).append('\n');
        md.append("library_name: transformers\ntags:\n- mergestream\n- ").append(plan.method().name())
                .append("\n---\n");
        md.append("# ").append(operation.title()).append("\n\nThis model was written by mergestream ").append(version)
                .append(" using the `").append(plan.method().name()).append("` operation, seed ")
                .append(Long.toUnsignedString(plan.seed())).append(" (DARE mask: dare-mask v1).\n\n");
        md.append(operation.description().strip()).append("\n\n## Models\n\n");
        if (plan.base() != null) md.append("- base: `").append(plan.base().name()).append("`\n");
        for (ModelInput m : plan.fineTunes()) md.append("- `").append(m.name()).append("`\n");
        md.append("\n## Reproduce\n\n```\n").append(operation.commandLine().strip()).append("\n```\n");
        try {
            Files.writeString(dir.resolve("README.md"), md, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the model card in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static String yamlString(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
