package io.mergestream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No package of the main code depends, directly or through others, on a package that depends on it: the
 * layers (tensor, kernel, format, method, plan, engine, api, cli) stay a graph that can be read bottom-up.
 * Dependencies are read from the compiled classes (every class named in a constant pool, a descriptor or a
 * generic signature), so a reference only in a comment or a class name in a string (the reflective load of the
 * vector kernel) does not count, and one in a field type or a method signature does.
 */
class PackageCyclesTest {

    /** {@code Lio/mergestream/a/B;} inside descriptors and signatures. */
    private static final Pattern DESCRIPTOR_CLASS = Pattern.compile("L(io/mergestream/[\\w/$]+)[;<]");

    @Test
    void theMainCodeHasNoPackageCycle() throws IOException {
        Map<String, Map<String, Set<String>>> graph = packageGraph(mainClasses());
        // the scan sees the project: methods use kernels, the engine uses plans
        assertTrue(graph.getOrDefault("io.mergestream.method", Map.of()).containsKey("io.mergestream.kernel"), "method -> kernel");
        assertTrue(graph.getOrDefault("io.mergestream.engine", Map.of()).containsKey("io.mergestream.plan"), "engine -> plan");
        List<List<String>> cycles = cycles(graph);
        StringBuilder why = new StringBuilder();
        for (List<String> scc : cycles) {
            why.append("\ncycle among ").append(scc).append(':');
            for (String from : scc) {
                for (Map.Entry<String, Set<String>> e : graph.get(from).entrySet()) {
                    if (scc.contains(e.getKey())) {
                        why.append("\n  ").append(from).append(" -> ").append(e.getKey()).append(" via ").append(e.getValue());
                    }
                }
            }
        }
        assertEquals(List.of(), cycles, why.toString());
    }

    @Test
    void theCycleFinderFindsACycleThroughThreePackagesAndNotAChain() {
        Map<String, Map<String, Set<String>>> g = new TreeMap<>();
        edge(g, "a", "b");
        edge(g, "b", "c");
        edge(g, "c", "a");
        edge(g, "c", "d");
        assertEquals(List.of(List.of("a", "b", "c")), cycles(g));
        g.get("c").remove("a");
        assertEquals(List.of(), cycles(g));
    }

    private static void edge(Map<String, Map<String, Set<String>>> g, String from, String to) {
        g.computeIfAbsent(from, k -> new TreeMap<>()).computeIfAbsent(to, k -> new TreeSet<>()).add(from + ".X");
        g.computeIfAbsent(to, k -> new TreeMap<>());
    }

    /** The compiled main classes: the directory (or jar's directory) that holds MergestreamException. */
    private static Path mainClasses() {
        try {
            Path root = Path.of(MergestreamException.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            assertTrue(Files.isDirectory(root.resolve("io/mergestream")), "main classes under " + root);
            return root;
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** package -> package it uses -> the classes that use it (for the failure message). */
    static Map<String, Map<String, Set<String>>> packageGraph(Path classes) throws IOException {
        Map<String, Map<String, Set<String>>> g = new TreeMap<>();
        List<Path> files;
        try (Stream<Path> s = Files.walk(classes)) {
            files = s.filter(p -> p.toString().endsWith(".class") && !p.getFileName().toString().equals("module-info.class"))
                    .sorted().toList();
        }
        for (Path f : files) {
            ClassModel cm = ClassFile.of().parse(Files.readAllBytes(f));
            String self = cm.thisClass().asInternalName();
            String from = packageOf(self);
            Map<String, Set<String>> out = g.computeIfAbsent(from, k -> new TreeMap<>());
            for (PoolEntry e : cm.constantPool()) {
                List<String> named = new ArrayList<>();
                if (e instanceof ClassEntry c) {
                    named.add(c.asInternalName().replaceFirst("^\\[*L?", "").replaceFirst(";$", ""));
                } else if (e instanceof Utf8Entry u) {
                    Matcher m = DESCRIPTOR_CLASS.matcher(u.stringValue());
                    while (m.find()) named.add(m.group(1));
                }
                for (String n : named) {
                    if (!n.startsWith("io/mergestream/")) continue;
                    String to = packageOf(n);
                    if (!to.equals(from)) out.computeIfAbsent(to, k -> new TreeSet<>()).add(self.replace('/', '.'));
                }
            }
        }
        return g;
    }

    private static String packageOf(String internalName) {
        int slash = internalName.lastIndexOf('/');
        return internalName.substring(0, slash).replace('/', '.');
    }

    /** The strongly connected components with more than one package (Tarjan), each sorted, in sorted order. */
    static List<List<String>> cycles(Map<String, Map<String, Set<String>>> g) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> found = new ArrayList<>();
        int[] counter = {0};
        for (String v : g.keySet()) {
            if (!index.containsKey(v)) connect(v, g, index, low, stack, onStack, found, counter);
        }
        found.sort((a, b) -> a.getFirst().compareTo(b.getFirst()));
        return found;
    }

    private static void connect(String v, Map<String, Map<String, Set<String>>> g, Map<String, Integer> index,
            Map<String, Integer> low, Deque<String> stack, Set<String> onStack, List<List<String>> found, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]);
        counter[0]++;
        stack.push(v);
        onStack.add(v);
        for (String w : g.getOrDefault(v, Map.of()).keySet()) {
            if (!index.containsKey(w)) {
                connect(w, g, index, low, stack, onStack, found, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> scc = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                scc.add(w);
            } while (!w.equals(v));
            if (scc.size() > 1) {
                scc.sort(null);
                found.add(scc);
            }
        }
    }
}
