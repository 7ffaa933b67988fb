package io.mergestream.format;

import io.mergestream.MergestreamException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;

/**
 * The one rule that turns a model as the user names it (in a recipe or on the command line) into a directory:
 * a local path first (absolute as is; a relative one against each anchor in turn: the current directory, then
 * for a recipe the recipe's directory), then the local Hugging Face cache for anything that can be a hub id
 * ({@code ORG/NAME}, {@code NAME}, either with {@code @REVISION}). A local directory of that name always wins.
 * Nothing is ever downloaded.
 */
public final class ModelLocator {

    /** Where a reference led: a local path, a cache snapshot, or nowhere (with the reason, one phrase). */
    public sealed interface Location {
        /** The path found, or the first local candidate when nothing was found (for messages). */
        Path path();
    }

    public record Local(Path path) implements Location {}

    public record Cached(Path path, HubCache.Id id) implements Location {}

    public record Missing(Path path, String reason) implements Location {}

    private ModelLocator() {}

    /**
     * Resolves {@code reference} without failing: see the class comment. {@code anchors} are the directories a
     * relative path is tried against, in order (at least one).
     */
    public static Location find(String reference, List<Path> anchors, HubCache cache) {
        Path p = Path.of(reference);
        List<Path> candidates = new ArrayList<>();
        if (p.isAbsolute()) {
            candidates.add(p.normalize());
        } else {
            // an empty anchor (the current directory) keeps a relative path as the user typed it, for messages
            for (Path a : anchors) candidates.add(a.resolve(p).normalize());
        }
        candidates = List.copyOf(new LinkedHashSet<>(candidates));
        for (Path c : candidates) {
            if (Files.exists(c)) return new Local(c);
        }
        String looked = "looked for " + String.join(" and ",
                candidates.stream().map(c -> c.toAbsolutePath().toString()).distinct().toList());
        Optional<HubCache.Id> id = p.isAbsolute() || reference.startsWith("./") ? Optional.empty()
                : HubCache.Id.parse(reference);
        if (id.isEmpty()) return new Missing(candidates.get(0), "not found: no such file or directory (" + looked + ")");
        HubCache.Id hub = id.get();
        if (!cache.hasRepo(hub)) {
            return new Missing(candidates.get(0), "not found: no such local directory (" + looked + "), and not in"
                    + " the Hugging Face cache (" + cache.root() + " has no " + hub.folderName() + "); mergestream"
                    + " does not download models: download it first with `" + hub.downloadCommand() + "`");
        }
        try {
            return new Cached(cache.snapshot(hub), hub);
        } catch (MergestreamException e) {
            return new Missing(candidates.get(0), e.getMessage());
        }
    }

    /**
     * The directory (or file) of a model to open, or a one-line {@link MergestreamException}
     * "{@code what}: REASON". A cache snapshot is also checked to hold its weights
     * ({@link HubCache#checkWeights}).
     */
    public static Path locate(String reference, List<Path> anchors, HubCache cache, String what) {
        Location l = find(reference, anchors, cache);
        return switch (l) {
            case Local local -> local.path();
            case Cached c -> {
                try {
                    HubCache.checkWeights(c.id(), c.path());
                } catch (MergestreamException e) {
                    throw new MergestreamException(what + ": " + e.getMessage(), e);
                }
                yield c.path();
            }
            case Missing m -> throw new MergestreamException(what + ": " + m.reason());
        };
    }

    /** A model named on the command line ({@code option}, e.g. {@code --base}): relative to the current directory. */
    public static Path locate(String reference, String option) {
        return locate(reference, List.of(Path.of("")), HubCache.current(), option + " " + reference);
    }
}
