package io.mergestream.api;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The child JVM of {@link ShutdownHookTest}: makes one merge of the bundled tiny Llama family into a directory under
 * {@code dir} through the API (so that every once-per-JVM hook exists: mergestream's staging cleanup, and
 * java.util.logging's, which System.Logger's default backend registers), counts the JVM's application shutdown
 * hooks ({@code java.lang.ApplicationShutdownHooks.hooks}, opened with
 * {@code --add-opens java.base/java.lang=ALL-UNNAMED}), makes {@code runs} more merges, counts them again and
 * prints {@code hooks-before N hooks-after M merges K} and the hooks' thread names.
 */
public final class ShutdownHookProbe {

    private ShutdownHookProbe() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int runs = Integer.parseInt(args[1]);
        MergeRecipe recipe = MergeRecipe.fromFile(Path.of("testdata/recipes/dare_ties.yml"));
        MergeOptions options = MergeOptions.builder().threads(1).build();
        Merge.of(recipe, options).run(dir.resolve("first"));
        int before = hooks().size();
        int merges = 0;
        for (int i = 0; i < runs; i++) {
            // directory runs: the output's staging and lock are what a hook must clean up after a Ctrl-C
            if (Merge.of(recipe, options).run(dir.resolve("out-" + i)).tensors() > 0) merges++;
        }
        List<String> after = hooks();
        System.out.println("hooks-before " + before + " hooks-after " + after.size() + " merges " + merges);
        System.out.println("hooks " + after);
    }

    /** The registered hooks' thread names. */
    private static List<String> hooks() throws ReflectiveOperationException {
        Class<?> c = Class.forName("java.lang.ApplicationShutdownHooks");
        Field f = c.getDeclaredField("hooks");
        f.setAccessible(true);
        synchronized (c) {
            return ((Map<?, ?>) f.get(null)).keySet().stream().map(t -> ((Thread) t).getName()).sorted().toList();
        }
    }
}
