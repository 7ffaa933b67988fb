package io.mergestream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The module boundary as a program that embeds mergestream meets it: the module io.mergestream exports only
 * io.mergestream.api, the compiler refuses an import of anything else, and a program that does not add
 * jdk.incubator.vector still merges, with the scalar kernel and one line saying why.
 */
class ModuleBoundaryTest {

    @TempDir
    Path tmp;

    @Test
    void theModuleExportsOnlyTheApiAndReadsTheVectorModuleOnlyIfPresent() {
        Module module = MergestreamException.class.getModule();
        assertTrue(module.isNamed(), "the tests run on the module path, patched into io.mergestream");
        ModuleDescriptor d = module.getDescriptor();
        assertEquals("io.mergestream", d.name());
        assertEquals(Set.of("io.mergestream.api"),
                d.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
                        .collect(Collectors.toSet()));
        assertTrue(d.requires().stream().anyMatch(r -> r.name().equals("jdk.incubator.vector")
                && r.modifiers().contains(ModuleDescriptor.Requires.Modifier.STATIC)), d.requires().toString());
    }

    @Test
    void theCompilerRefusesAnImportOfAnInternalPackage() throws Exception {
        Path src = probeModule("import io.mergestream.engine.MergeEngine;",
                "System.out.println(MergeEngine.class.getName());");
        List<String> errors = compile(src, tmp.resolve("out-internal"));
        String messages = String.join("\n", errors);
        assertFalse(errors.isEmpty(), "an import of io.mergestream.engine compiled");
        assertTrue(messages.contains("package io.mergestream.engine is not visible"), messages);
        assertTrue(messages.contains("does not export it"), messages);
    }

    @Test
    void theSameProgramCompilesAgainstTheApi() throws Exception {
        // the control for the refusal above: the setup itself (module path, probe module) is sound
        Path src = probeModule("import io.mergestream.api.KernelChoice;",
                "System.out.println(KernelChoice.automatic());");
        assertEquals(List.of(), compile(src, tmp.resolve("out-api")));
    }

    @Test
    void aProgramWithoutTheVectorModuleGetsTheScalarKernelAndOneLine() throws Exception {
        Path src = probeModule("import io.mergestream.api.KernelChoice;",
                "System.out.println(KernelChoice.automatic() + \" \" + KernelChoice.whyNotVector().isPresent());");
        Path out = tmp.resolve("out-run");
        assertEquals(List.of(), compile(src, out));

        Run without = run(out, List.of());
        assertEquals(0, without.exit(), without.toString());
        assertEquals(List.of("scalar true"), without.stdout(), without.toString());
        // one record through System.Logger (the library prints nothing itself; JUL, the default backend, writes a
        // date line and a LEVEL: message line per record)
        assertEquals(List.of("INFO: using the scalar kernel: jdk.incubator.vector is not available "
                + "(run java with --add-modules jdk.incubator.vector)"),
                without.stderr().stream().filter(l -> l.matches("[A-Z]+: .*")).toList(), without.toString());
        assertEquals(2, without.stderr().size(), without.toString());

        if (io.mergestream.kernel.VectorSupport.unusableReason().isEmpty()) {
            Run with = run(out, List.of("--add-modules", "jdk.incubator.vector"));
            assertEquals(List.of("vector false"), with.stdout(), with.toString());
        }
    }

    /** A module "probe" requiring io.mergestream, whose class probe.Main has the import and the body given. */
    private Path probeModule(String importLine, String body) throws IOException {
        Path src = tmp.resolve("src-" + Math.abs(importLine.hashCode()));
        Files.createDirectories(src.resolve("probe"));
        Files.writeString(src.resolve("module-info.java"), "module probe { requires io.mergestream; }\n");
        Files.writeString(src.resolve("probe/Main.java"), "package probe;\n" + importLine + "\n"
                + "public class Main { public static void main(String[] args) { " + body + " } }\n");
        return src;
    }

    /**
     * Compiles the probe module with the JDK's javac against io.mergestream as the build put it on the module
     * path; returns javac's output when it failed, empty when it compiled.
     */
    private static List<String> compile(Path src, Path out) throws Exception {
        Path javac = Path.of(System.getProperty("java.home"), "bin", "javac");
        List<String> cmd = List.of(javac.toString(), "-J-Xmx128m", "-d", out.toString(),
                "--module-path", modulePath(), src.resolve("module-info.java").toString(),
                src.resolve("probe/Main.java").toString());
        Path log = out.resolveSibling(out.getFileName() + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "javac did not finish");
        List<String> output = Files.readAllLines(log);
        return p.exitValue() == 0 ? List.of() : output;
    }

    /** io.mergestream (the main classes) and the modules it requires, as this JVM found them. */
    private static String modulePath() {
        List<String> parts = new ArrayList<>();
        try {
            parts.add(Path.of(MergestreamException.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .toString());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        for (String p : System.getProperty("jdk.module.path", "").split(File.pathSeparator)) {
            if (!p.isEmpty() && !parts.contains(p)) parts.add(p);
        }
        return String.join(File.pathSeparator, parts);
    }

    private record Run(int exit, List<String> stdout, List<String> stderr) {}

    private Run run(Path probeClasses, List<String> jvmFlags) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Xmx64m"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("--module-path", modulePath() + File.pathSeparator + probeClasses, "-m", "probe/probe.Main"));
        Path stdout = tmp.resolve("stdout-" + jvmFlags.size());
        Path stderr = tmp.resolve("stderr-" + jvmFlags.size());
        Process p = new ProcessBuilder(cmd).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe did not finish");
        List<String> err = Files.readAllLines(stderr).stream()
                .filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
        return new Run(p.exitValue(), Files.readAllLines(stdout), err);
    }
}
