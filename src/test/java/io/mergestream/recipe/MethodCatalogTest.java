package io.mergestream.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.method.Dare;
import io.mergestream.method.Linear;
import io.mergestream.method.MergeMethod;
import io.mergestream.method.Sparsification;
import io.mergestream.method.TaskArithmeticFamily;
import io.mergestream.recipe.MethodSpec.BaseUse;
import java.io.IOException;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The method table is the one place a method is declared: every recipe name runs, every implementation is named. */
class MethodCatalogTest {

    /** The catalogue of docs/merge-semantics.md, in its order. */
    private static final List<String> DOCUMENTED = List.of("linear", "task_arithmetic", "ties", "dare_linear",
            "dare_ties", "breadcrumbs", "breadcrumbs_ties", "della_linear", "della", "sce", "ram", "ramplus_tl",
            "slerp", "nuslerp", "multislerp", "karcher", "model_stock", "nearswap", "arcee_fusion", "passthrough");

    @Test
    void everyDocumentedNameHasAnImplementationOfThatName() {
        assertEquals(DOCUMENTED, MethodCatalog.supportedNames());
        for (String name : DOCUMENTED) {
            MethodSpec spec = MethodCatalog.find(name).orElseThrow();
            assertEquals(name, spec.implementation().name(), name);
        }
    }

    @Test
    void everyImplementationInTheMethodPackageIsARecipeMethodOrTheDareCommand() throws Exception {
        Set<String> registered = MethodCatalog.supportedNames().stream()
                .map(n -> MethodCatalog.find(n).orElseThrow().implementation().getClass().getName())
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> implementations = new TreeSet<>();
        for (Class<?> c : methodPackageClasses()) {
            if (MergeMethod.class.isAssignableFrom(c) && !c.isInterface() && !Modifier.isAbstract(c.getModifiers())) {
                implementations.add(c.getName());
            }
        }
        // Dare is the dare command's operation (recipes spell it dare_linear), not a recipe method
        assertTrue(implementations.remove(Dare.class.getName()), "Dare found by the scan");
        assertEquals(implementations, registered);
        assertFalse(MethodCatalog.find(Dare.random().name()).isPresent());
        assertFalse(MethodCatalog.find(Dare.magnitude().name()).isPresent());
    }

    @Test
    void theFamilyMembersRunWhatTheirEntryDeclares() {
        // one enum: the spec's sparsification is the one the implementation was built with
        MethodSpec ties = MethodCatalog.find("ties").orElseThrow();
        assertEquals(Sparsification.MAGNITUDE, ties.sparsification());
        assertTrue(ties.signConsensus());
        assertSame(TaskArithmeticFamily.class, ties.implementation().getClass());
        assertEquals(Sparsification.DELLA_MAGPRUNE, MethodCatalog.find("della_linear").orElseThrow().sparsification());
        assertFalse(MethodCatalog.find("dare_linear").orElseThrow().signConsensus());
    }

    @Test
    void anEntryWhoseImplementationHasAnotherNameIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new MethodSpec("not_linear", BaseUse.LISTED_ONLY,
                Sparsification.NONE, false, List.of(), List.of(), 1, 2, false, new Linear()));
    }

    private static List<Class<?>> methodPackageClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path root = Path.of(MergeMethod.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path dir = root.resolve("io/mergestream/method");
        List<String> names;
        try (Stream<Path> s = Files.list(dir)) {
            names = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".class")).sorted().toList();
        }
        List<Class<?>> classes = new java.util.ArrayList<>();
        for (String n : names) {
            classes.add(Class.forName("io.mergestream.method." + n.substring(0, n.length() - ".class".length()), false,
                    MethodCatalogTest.class.getClassLoader()));
        }
        assertTrue(classes.size() > 20, "scanned " + dir);
        return classes;
    }
}
