package io.mergestream.format;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Builds a Hugging Face hub cache by hand, as huggingface_hub lays one out: {@code models--ORG--NAME/} with
 * {@code blobs/SHA256} holding the bytes, {@code snapshots/COMMIT/FILE} relative symlinks
 * {@code ../../blobs/SHA256} (one more {@code ../} per sub-folder) and {@code refs/REF} files holding the commit.
 */
public final class HubCacheFixture {

    private HubCacheFixture() {}

    /** The repository folder of {@code repoId} under {@code root}. */
    public static Path repo(Path root, String repoId) {
        return root.resolve("models--" + repoId.replace("/", "--"));
    }

    /** Puts every file of {@code source} into the snapshot {@code commit} of {@code repoId}, as blob links. */
    public static Path snapshot(Path root, String repoId, String commit, Path source) throws IOException {
        Path repo = repo(root, repoId);
        Path snap = Files.createDirectories(repo.resolve("snapshots").resolve(commit));
        Path blobs = Files.createDirectories(repo.resolve("blobs"));
        List<Path> files;
        try (Stream<Path> s = Files.walk(source)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        for (Path f : files) {
            Path rel = source.relativize(f);
            byte[] bytes = Files.readAllBytes(f);
            String sha = sha256(bytes);
            Path blob = blobs.resolve(sha);
            if (!Files.exists(blob)) Files.write(blob, bytes);
            Path link = snap.resolve(rel.toString());
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, link.getParent().relativize(blob));
        }
        return snap;
    }

    /** Writes {@code refs/REF} (REF may be {@code refs/pr/1}) naming {@code commit}, without a newline as hf writes it. */
    public static void ref(Path root, String repoId, String ref, String commit) throws IOException {
        Path f = repo(root, repoId).resolve("refs").resolve(ref);
        Files.createDirectories(f.getParent());
        Files.writeString(f, commit);
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
