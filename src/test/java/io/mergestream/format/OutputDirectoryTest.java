package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputDirectoryTest {

    @TempDir
    Path tmp;

    private List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void stagesInAHiddenSiblingThenCommitMovesIntoPlace() throws IOException {
        Path target = tmp.resolve("out");
        try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
            Path staging = out.staging();
            assertEquals(tmp, staging.getParent());
            assertTrue(staging.getFileName().toString().startsWith(".out.partial-"), staging.toString());
            Files.writeString(staging.resolve("model.safetensors"), "x");
            assertFalse(Files.exists(target), "nothing at the target before commit");
            out.commit();
        }
        assertEquals(List.of("out"), listing(tmp));
        assertEquals("x", Files.readString(target.resolve("model.safetensors")));
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws IOException {
        Path target = tmp.resolve("out");
        try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
            Files.writeString(out.staging().resolve("model.safetensors"), "half");
            Files.createDirectory(out.staging().resolve("sub"));
            Files.writeString(out.staging().resolve("sub/f"), "y");
        }
        assertEquals(List.of(), listing(tmp));
    }

    @Test
    void failureWhileWritingLeavesNothing() {
        Path target = tmp.resolve("out");
        assertThrows(IllegalStateException.class, () -> {
            try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
                Files.writeString(out.staging().resolve("a"), "a");
                throw new IllegalStateException("merge failed");
            }
        });
        assertFalse(Files.exists(target));
        assertEquals(0, tmp.toFile().list().length);
    }

    @Test
    void refusesANonEmptyTargetWithoutForce() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(target.resolve("keep.txt"), "old");
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, false, List.of()));
        assertTrue(e.getMessage().contains("not empty") && e.getMessage().contains("--force"), e.getMessage());
        assertEquals("old", Files.readString(target.resolve("keep.txt")));
        assertEquals(List.of("out"), listing(tmp), "no staging directory left behind");
    }

    @Test
    void acceptsAnEmptyExistingTargetWithoutForce() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("out"));
        try (OutputDirectory out = OutputDirectory.prepare(target, false, List.of())) {
            Files.writeString(out.staging().resolve("new.txt"), "new");
            out.commit();
        }
        assertEquals(List.of("new.txt"), listing(target));
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void forceReplacesTheOldContentsEntirely() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(target.resolve("stale.txt"), "old");
        try (OutputDirectory out = OutputDirectory.prepare(target, true, List.of())) {
            Files.writeString(out.staging().resolve("new.txt"), "new");
            assertEquals("old", Files.readString(target.resolve("stale.txt")), "old output intact until commit");
            out.commit();
        }
        assertEquals(List.of("new.txt"), listing(target));
        assertEquals(List.of("out"), listing(tmp), "no .old or .partial sibling left");
    }

    @Test
    void forceWithoutCommitKeepsTheOldOutput() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(target.resolve("stale.txt"), "old");
        try (OutputDirectory out = OutputDirectory.prepare(target, true, List.of())) {
            Files.writeString(out.staging().resolve("new.txt"), "new");
        }
        assertEquals(List.of("stale.txt"), listing(target));
        assertEquals(List.of("out"), listing(tmp));
    }

    @Test
    void refusesATargetThatIsAFile() throws IOException {
        Path target = Files.writeString(tmp.resolve("out"), "file");
        MergestreamException e = assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(target, true, List.of()));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
    }

    @Test
    void refusesTargetsOverlappingAnInput() throws IOException {
        Path model = Files.createDirectory(tmp.resolve("model"));
        Files.writeString(model.resolve("model.safetensors"), "w");
        Path parentOfModel = tmp;
        List<Path> targets = List.of(model, model.resolve("merged"), tmp.resolve("x/../model"), parentOfModel);
        for (Path target : targets) {
            MergestreamException e = assertThrows(MergestreamException.class,
                    () -> OutputDirectory.prepare(target, true, List.of(tmp.resolve("other"), model)), target.toString());
            assertTrue(e.getMessage().contains("input model"), e.getMessage());
        }
        // An input given as a file inside the target is refused too.
        Path out = tmp.resolve("out");
        assertThrows(MergestreamException.class,
                () -> OutputDirectory.prepare(out, true, List.of(out.resolve("in/model.safetensors"))));
        assertEquals(List.of("model"), listing(tmp), "nothing created, nothing removed");
        assertEquals(List.of("model.safetensors"), listing(model));
    }

    @Test
    void refusesATargetReachingAnInputThroughASymlink() throws IOException {
        Path model = Files.createDirectory(tmp.resolve("model"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), model);
        assertThrows(MergestreamException.class, () -> OutputDirectory.prepare(link.resolve("merged"), false, List.of(model)));
        assertFalse(Files.exists(model.resolve("merged")));
    }

    @Test
    void aSiblingOfTheInputIsFine() throws IOException {
        Path model = Files.createDirectory(tmp.resolve("model"));
        try (OutputDirectory out = OutputDirectory.prepare(tmp.resolve("model-merged"), false, List.of(model))) {
            out.commit();
        }
        assertTrue(Files.isDirectory(tmp.resolve("model-merged")));
    }
}
