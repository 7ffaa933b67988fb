package io.mergestream.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The file {@value #FILE} that mergestream writes into every output directory it creates, last, before the
 * directory appears: every file of that output (paths relative to it, {@code /}-separated) with its size. It is
 * what makes {@code --force} safe: an existing directory is replaced only when it holds a valid manifest, and then
 * only the files it lists (unchanged since they were written: same size, still regular files) are removed;
 * anything else in the directory is somebody else's and stays.
 *
 * <p>Not {@code mergekit_config.yml}, {@code README.md} or {@code config.json} as the marker: models downloaded from
 * the Hub carry those, and the user's own files would then be deleted. The name is mergestream's own and hidden.
 * The content is deterministic (no time, no process id, no version) so a regenerated directory is byte-identical.
 *
 * <p>{@code complete: false} marks the journal written while an output is replaced file by file inside a directory
 * that also holds other files ({@link OutputDirectory}): it lists the old and the new files together (a path in
 * both with both sizes), so that after a crash in the middle a later {@code --force} can still remove every file
 * mergestream put there, and nothing else.
 */
public final class OutputManifest {

    public static final String FILE = ".mergestream-output.json";
    private static final String WRITER = "mergestream";
    private static final int FORMAT = 1;

    /** Each listed path with the sizes it may have (one, except in a journal). Sorted by path. */
    private final Map<String, List<Long>> files;
    private final boolean complete;

    private OutputManifest(Map<String, List<Long>> files, boolean complete) {
        this.files = files;
        this.complete = complete;
    }

    /** A manifest listing nothing (an empty directory being filled). */
    static OutputManifest empty() {
        return new OutputManifest(new TreeMap<>(), true);
    }

    /** Lists every regular file under {@code dir} (the manifest itself excepted) with its size. */
    static OutputManifest of(Path dir) {
        Map<String, List<Long>> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.toList()) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!a.isRegularFile()) continue;
                String rel = relative(dir, p);
                if (!rel.equals(FILE)) files.put(rel, List.of(a.size()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        return new OutputManifest(files, true);
    }

    /** The journal of a replacement in place: the old files and the new ones, not complete. */
    static OutputManifest union(OutputManifest old, OutputManifest next) {
        Map<String, List<Long>> files = new TreeMap<>();
        for (OutputManifest m : List.of(old, next)) {
            m.files.forEach((path, sizes) -> files.merge(path, sizes, (a, b) -> {
                List<Long> both = new ArrayList<>(a);
                for (Long s : b) if (!both.contains(s)) both.add(s);
                return List.copyOf(both);
            }));
        }
        return new OutputManifest(files, false);
    }

    Set<String> paths() {
        return files.keySet();
    }

    int size() {
        return files.size();
    }

    boolean complete() {
        return complete;
    }

    String json() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("written_by", WRITER);
        root.put("format", FORMAT);
        root.put("complete", complete);
        root.put("note", "the files mergestream wrote here; mergestream --force removes or replaces only these");
        ArrayNode list = root.putArray("files");
        files.forEach((path, sizes) -> {
            for (long s : sizes) list.addObject().put("path", path).put("size", s);
        });
        return Json.pretty(root);
    }

    void write(Path file) {
        try {
            Files.writeString(file, json(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** A manifest that cannot be trusted: its directory is then treated as not mergestream's. */
    static final class Invalid extends Exception {
        Invalid(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * Reads and checks {@code file}: mergestream's writer tag and format, and every path relative, inside the
     * directory ({@code ..}, absolute paths and empty segments are refused), with a size.
     */
    static OutputManifest read(Path file) throws Invalid {
        JsonNode root;
        try {
            // strict about what follows the object: a manifest decides which files --force may replace, so one with
            // a second value after it (which Jackson's readTree would drop without a word) is not trusted
            root = Json.MAPPER.reader().with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                    .readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new Invalid("is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (root == null || !root.isObject() || !WRITER.equals(root.path("written_by").asText(null))) {
            throw new Invalid("was not written by mergestream (no \"written_by\": \"mergestream\")");
        }
        if (root.path("format").asInt(-1) != FORMAT) {
            throw new Invalid("has format " + root.path("format") + ", not " + FORMAT);
        }
        JsonNode complete = root.get("complete");
        if (complete == null || !complete.isBoolean()) throw new Invalid("has no \"complete\": true or false");
        JsonNode list = root.get("files");
        if (list == null || !list.isArray()) throw new Invalid("has no \"files\" list");
        Map<String, List<Long>> files = new TreeMap<>();
        for (JsonNode e : list) {
            String path = e.path("path").isTextual() ? e.get("path").asText() : null;
            JsonNode size = e.get("size");
            if (path == null || size == null || !size.canConvertToLong() || !size.isIntegralNumber() || size.asLong() < 0) {
                throw new Invalid("has an entry without a path and a size: " + e);
            }
            checkRelative(path);
            List<Long> sizes = files.computeIfAbsent(path, k -> new ArrayList<>());
            if (!sizes.isEmpty() && complete.asBoolean()) throw new Invalid("lists " + path + " twice");
            sizes.add(size.asLong());
        }
        files.replaceAll((k, v) -> List.copyOf(v));
        return new OutputManifest(files, complete.asBoolean());
    }

    private static void checkRelative(String path) throws Invalid {
        if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || path.indexOf('\0') >= 0) {
            throw new Invalid("lists a path outside the directory: '" + path + "'");
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new Invalid("lists a path outside the directory: '" + path + "'");
            }
        }
        if (path.equals(FILE)) throw new Invalid("lists itself");
    }

    /**
     * Why the listed file {@code rel} under {@code dir} is no longer the one mergestream wrote, or null when it is
     * (or is gone). A listed file replaced by a symbolic link, a directory, or content of another size is the
     * user's now: it must not be deleted. Every directory on the way must be a real directory too, or deleting
     * {@code a/b} could reach through a link {@code a} out of the output.
     */
    String changed(Path dir, String rel) {
        Path p = dir;
        String[] segments = rel.split("/");
        try {
            for (int i = 0; i < segments.length; i++) {
                p = p.resolve(segments[i]);
                if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return null;
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                boolean last = i == segments.length - 1;
                if (a.isSymbolicLink()) return "is now a symbolic link";
                if (!last && !a.isDirectory()) return "is inside " + segments[i] + ", which is no longer a directory";
                if (last && !a.isRegularFile()) return "is no longer a regular file";
                if (last && !files.getOrDefault(rel, List.of()).contains(a.size())) {
                    return "has " + a.size() + " bytes where mergestream wrote " + sizes(rel);
                }
            }
        } catch (IOException e) {
            return "cannot be read (" + e.getMessage() + ")";
        }
        return null;
    }

    private String sizes(String rel) {
        List<Long> s = files.get(rel);
        return s.size() == 1 ? String.valueOf(s.get(0)) : s.toString();
    }

    /**
     * What under {@code dir} this manifest does not list, sorted: files and links, and directories holding nothing
     * listed (named once, not file by file). That is somebody else's, and stays where it is.
     */
    List<String> unlisted(Path dir) {
        List<String> out = new ArrayList<>();
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) {
                    if (d.equals(dir)) return FileVisitResult.CONTINUE;
                    String rel = relative(dir, d);
                    if (files.keySet().stream().anyMatch(f -> f.startsWith(rel + "/"))) return FileVisitResult.CONTINUE;
                    out.add(rel + "/");
                    return FileVisitResult.SKIP_SUBTREE;
                }

                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes a) {
                    String rel = relative(dir, f);
                    if (!rel.equals(FILE) && !files.containsKey(rel)) out.add(rel);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        out.sort(null);
        return out;
    }

    static String relative(Path dir, Path p) {
        List<String> names = new ArrayList<>();
        for (Path n : dir.relativize(p)) names.add(n.toString());
        return String.join("/", names);
    }

    static String shortList(Collection<String> names) {
        List<String> l = List.copyOf(names);
        String shown = String.join(", ", l.subList(0, Math.min(5, l.size())));
        return l.size() > 5 ? shown + " and " + (l.size() - 5) + " more" : shown;
    }
}
