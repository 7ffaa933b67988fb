package io.mergestream.format;

import com.fasterxml.jackson.databind.JsonNode;
import io.mergestream.MergestreamException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The local Hugging Face hub cache, read offline exactly as {@code huggingface_hub} lays it out; mergestream
 * never downloads and never writes here.
 *
 * <p>Where it is (huggingface_hub {@code constants.py}): {@code $HF_HUB_CACHE}, else the legacy
 * {@code $HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub}, else
 * {@code ~/.cache/huggingface/hub}; each value goes through {@code expanduser} and {@code expandvars}. (An
 * empty variable counts as unset here, where Python would take the empty string as the current directory.)
 *
 * <p>What is in it (huggingface_hub {@code file_download.py}, {@code try_to_load_from_cache}, and the
 * "cache-system" / "Hub Local Cache" docs): a repository {@code ORG/NAME} lives in {@code models--ORG--NAME}
 * ({@code models--NAME} for an id without an organisation; {@code --} cannot occur in a repo id, so the name is
 * unambiguous). Its {@code refs/REVISION} file holds the commit a branch or tag names ({@code refs/main};
 * a pull request's revision {@code refs/pr/1} is the file {@code refs/refs/pr/1}); a revision that names no
 * ref is taken as the commit itself. {@code snapshots/COMMIT/} holds that commit's files, usually symlinks
 * into {@code blobs/} (content-addressed), so a snapshot whose download was interrupted can hold dangling
 * links or lack files: {@link #checkWeights} finds those before a checkpoint is opened.
 */
public final class HubCache {

    /** The revision a reference without {@code @revision} means (huggingface_hub's DEFAULT_REVISION). */
    public static final String DEFAULT_REVISION = "main";

    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    /** One part of a repo id (huggingface_hub {@code validate_repo_id}): word characters at both ends. */
    private static final String PART = "[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?";
    private static final Pattern REPO_ID = Pattern.compile("(?:(" + PART + ")/)?(" + PART + ")");
    private static final Pattern VARIABLE = Pattern.compile("\\$(\\w+|\\{[^}]*})");
    private static final int MAX_REPO_ID = 96;

    private static volatile HubCache current;

    private final Path root;

    public HubCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /** The cache directory. */
    public Path root() {
        return root;
    }

    /**
     * The cache of this process: the one {@link #setCurrent} installed, else the one the environment names
     * (see the class comment).
     */
    public static HubCache current() {
        HubCache c = current;
        if (c != null) return c;
        // Python's expanduser takes $HOME first, then the account's home directory
        String home = System.getenv("HOME");
        return fromEnvironment(System.getenv(), Path.of(home != null && !home.isEmpty() ? home : System.getProperty("user.home")));
    }

    /**
     * Installs the cache every model lookup of this process uses, and returns the one it replaces (null for
     * "from the environment"); for tests and embedding programs, which must not depend on the user's cache.
     */
    public static HubCache setCurrent(HubCache next) {
        HubCache previous = current;
        current = next;
        return previous;
    }

    /** The cache that huggingface_hub would use with environment {@code env} and home directory {@code home}. */
    public static HubCache fromEnvironment(Map<String, String> env, Path home) {
        String dir = value(env, "HF_HUB_CACHE");
        if (dir == null) dir = value(env, "HUGGINGFACE_HUB_CACHE");
        Path p;
        if (dir != null) {
            p = Path.of(expand(dir, env, home));
        } else {
            String hfHome = value(env, "HF_HOME");
            if (hfHome == null) {
                String xdg = value(env, "XDG_CACHE_HOME");
                hfHome = (xdg != null ? xdg : home.resolve(".cache").toString()) + "/huggingface";
            }
            p = Path.of(expand(hfHome, env, home)).resolve("hub");
        }
        return new HubCache(p);
    }

    private static String value(Map<String, String> env, String name) {
        String v = env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    /** Python's {@code os.path.expandvars(os.path.expanduser(s))} on POSIX. */
    static String expand(String s, Map<String, String> env, Path home) {
        if (s.equals("~") || s.startsWith("~/")) s = home + s.substring(1);
        Matcher m = VARIABLE.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1).startsWith("{") ? m.group(1).substring(1, m.group(1).length() - 1) : m.group(1);
            String v = env.get(name);
            m.appendReplacement(out, Matcher.quoteReplacement(v != null ? v : m.group()));
        }
        m.appendTail(out);
        return out.toString();
    }

    /**
     * A model reference as recipes write it (mergekit's syntax): a hub repo id {@code ORG/NAME} or {@code NAME},
     * optionally {@code @REVISION} (a branch, a tag, {@code refs/pr/N} or a commit hash).
     */
    public record Id(Optional<String> org, String name, Optional<String> revision) {

        public Id {
            Objects.requireNonNull(org);
            Objects.requireNonNull(name);
            Objects.requireNonNull(revision);
        }

        /** The reference parsed as a hub id, or empty when it cannot be one (then it can only be a local path). */
        public static Optional<Id> parse(String reference) {
            String repo = reference;
            Optional<String> revision = Optional.empty();
            int at = reference.indexOf('@');
            if (at >= 0) {
                repo = reference.substring(0, at);
                String rev = reference.substring(at + 1);
                if (!validRevision(rev)) return Optional.empty();
                revision = Optional.of(rev);
            }
            Matcher m = REPO_ID.matcher(repo);
            if (!m.matches() || repo.length() > MAX_REPO_ID || repo.contains("--") || repo.contains("..")) {
                return Optional.empty();
            }
            return Optional.of(new Id(Optional.ofNullable(m.group(1)), m.group(2), revision));
        }

        /** A branch, tag, {@code refs/pr/N} or commit: relative, inside {@code refs/}, no whitespace, no second @. */
        private static boolean validRevision(String rev) {
            if (rev.isEmpty() || rev.startsWith("/") || rev.endsWith("/") || rev.contains("@")) return false;
            for (String part : rev.split("/", -1)) {
                if (part.isEmpty() || part.equals(".") || part.equals("..")) return false;
            }
            return rev.chars().noneMatch(c -> Character.isWhitespace(c) || c == '\\' || Character.isISOControl(c));
        }

        /** {@code ORG/NAME} (or {@code NAME}), without the revision: what the Hub and a card's base_model name. */
        public String repoId() {
            return org.map(o -> o + "/" + name).orElse(name);
        }

        /** The revision asked for, {@code main} by default. */
        public String revisionOrDefault() {
            return revision.orElse(DEFAULT_REVISION);
        }

        /** The repository's folder in the cache: {@code models--ORG--NAME}. */
        public String folderName() {
            return "models--" + repoId().replace("/", "--");
        }

        /** The command that would put this revision into the cache. */
        public String downloadCommand() {
            return "hf download " + repoId() + revision.map(r -> " --revision " + r).orElse("");
        }

        @Override
        public String toString() {
            return repoId() + revision.map(r -> "@" + r).orElse("");
        }
    }

    /** The repository's folder, whether or not it exists. */
    public Path repoFolder(Id id) {
        return root.resolve(id.folderName());
    }

    /** True when the cache holds some revision of the repository. */
    public boolean hasRepo(Id id) {
        return Files.isDirectory(repoFolder(id));
    }

    /**
     * The snapshot directory of {@code id}'s revision. A revision with a {@code refs/} file is the commit that
     * file names; any other is a commit itself (as huggingface_hub does). Every way this fails is a one-line
     * {@link MergestreamException} naming what is missing and the command that would download it.
     */
    public Path snapshot(Id id) {
        Path repo = repoFolder(id);
        if (!Files.isDirectory(repo)) {
            throw new MergestreamException("not in the Hugging Face cache (" + root + " has no " + id.folderName()
                    + "): download it first with `" + id.downloadCommand() + "`");
        }
        String revision = id.revisionOrDefault();
        Path ref = repo.resolve("refs").resolve(revision);
        String commit;
        if (Files.isRegularFile(ref)) {
            try {
                commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot read " + ref + ": " + e.getMessage(), e);
            }
            if (!COMMIT.matcher(commit).matches()) {
                throw new MergestreamException(ref + " does not hold a commit hash (40 hex digits); the cache entry is"
                        + " damaged: download it again with `" + id.downloadCommand() + "`");
            }
        } else if (COMMIT.matcher(revision).matches()) {
            commit = revision;
        } else {
            throw new MergestreamException("the Hugging Face cache has no revision '" + revision + "' of " + id.repoId()
                    + " (no " + ref + ")" + cachedRefs(repo) + ": download it first with `" + id.downloadCommand() + "`");
        }
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        if (!Files.isDirectory(snapshot)) {
            String named = Files.isRegularFile(ref) ? "refs/" + revision + " names commit " + commit + " but " : "";
            throw new MergestreamException(named + "the Hugging Face cache has no snapshot " + snapshot
                    + ": download it first with `" + id.downloadCommand() + "`");
        }
        return snapshot;
    }

    /** ", which has refs main, v1.0" listing the refs the cache holds, to show what could be meant. */
    private static String cachedRefs(Path repo) {
        Path refs = repo.resolve("refs");
        TreeSet<String> names = new TreeSet<>();
        try (var walk = Files.walk(refs, 4)) {
            walk.filter(Files::isRegularFile).forEach(f -> names.add(refs.relativize(f).toString()));
        } catch (IOException e) {
            return "";
        }
        return names.isEmpty() ? "" : ", which has refs " + String.join(", ", names);
    }

    /**
     * Checks that a snapshot holds its weights: every shard its {@code model.safetensors.index.json} names
     * (a link into {@code blobs/} whose blob is gone counts as missing), else {@code model.safetensors} or some
     * {@code .safetensors} file, else every shard of {@code pytorch_model.bin.index.json} or some
     * {@code pytorch_model*.bin} ({@code Checkpoint.open} reads those with the restricted unpickler).
     */
    public static void checkWeights(Id id, Path snapshot) {
        Path index = snapshot.resolve(CheckpointFiles.INDEX_FILE);
        // transformers reads a .bin index only when there are no safetensors: so does Checkpoint
        if (!Files.isRegularFile(index) && !Files.isRegularFile(snapshot.resolve(CheckpointFiles.SINGLE_FILE))
                && !hasFile(snapshot, "*.safetensors")) {
            index = snapshot.resolve(CheckpointFiles.BIN_INDEX_FILE);
        }
        if (Files.isRegularFile(index)) {
            JsonNode map = Json.read(index).path("weight_map");
            TreeSet<String> missing = new TreeSet<>();
            for (JsonNode file : map) {
                if (file.isTextual() && !Files.isRegularFile(snapshot.resolve(file.asText()))) missing.add(file.asText());
            }
            if (!missing.isEmpty()) {
                String what = missing.size() == 1 ? "shard " + missing.first()
                        : missing.size() + " shards (" + missing.first() + ", ...)";
                throw new MergestreamException("the Hugging Face cache snapshot " + snapshot + " lacks " + what
                        + " that " + index.getFileName() + " names (an interrupted download?): download it with `"
                        + id.downloadCommand() + "`");
            }
            return;
        }
        if (Files.isRegularFile(snapshot.resolve(CheckpointFiles.SINGLE_FILE)) || hasFile(snapshot, "*.safetensors")
                || hasFile(snapshot, "pytorch_model*.bin")) {
            return;
        }
        throw new MergestreamException("the Hugging Face cache snapshot " + snapshot + " holds no weights (no "
                + CheckpointFiles.SINGLE_FILE + " or " + CheckpointFiles.INDEX_FILE + "; only some files were downloaded?): "
                + "download it with `" + id.downloadCommand() + "`");
    }

    private static boolean hasFile(Path dir, String glob) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
            for (Path p : s) if (Files.isRegularFile(p)) return true;
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The repo id of a snapshot directory ({@code .../models--ORG--NAME/snapshots/COMMIT}), or empty for any other
     * path: how the model card tells models that came from the Hub from local directories.
     */
    public static Optional<String> repoIdOf(Path location) {
        Path p = location.toAbsolutePath().normalize();
        Path snapshots = p.getParent();
        Path repo = snapshots == null ? null : snapshots.getParent();
        if (repo == null || repo.getFileName() == null || !snapshots.getFileName().toString().equals("snapshots")) {
            return Optional.empty();
        }
        String folder = repo.getFileName().toString();
        if (!folder.startsWith("models--")) return Optional.empty();
        String[] parts = folder.substring("models--".length()).split("--", -1);
        if (parts.length > 2) return Optional.empty();
        String id = String.join("/", parts);
        return Id.parse(id).filter(i -> i.revision().isEmpty()).map(Id::repoId);
    }
}
