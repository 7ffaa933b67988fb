package io.mergestream.format;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes the hand-made malformed fixtures of {@code testdata/malformed/}: one tiny file (or directory) per
 * validation rule. The committed files are the output of {@link #main}; {@code MalformedFixturesTest} checks
 * that they still match, so the generator is the readable source of every byte.
 *
 * <p>Regenerate: {@code java -cp target/test-classes io.mergestream.format.MalformedFixtures testdata/malformed}
 */
public final class MalformedFixtures {

    private MalformedFixtures() {}

    public static void main(String[] args) {
        Path root = Path.of(args.length > 0 ? args[0] : "testdata/malformed");
        files().forEach((name, bytes) -> write(root.resolve(name), bytes));
        System.out.println("wrote " + files().size() + " files under " + root);
    }

    /** Relative path to content, for every fixture file. */
    public static Map<String, byte[]> files() {
        Map<String, byte[]> f = new LinkedHashMap<>();
        String ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

        f.put("short-file-5-bytes.safetensors", new byte[] {8, 0, 0, 0, 0});
        f.put("header-length-over-100MB.safetensors", concat(u64(100_000_001L), ascii("{}      ")));
        f.put("header-length-past-end-of-file.safetensors", concat(u64(200), java.util.Arrays.copyOf(ascii(ok), 24)));
        byte[] notUtf8 = ascii("{\"w\u00ff\u00fe\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        f.put("header-not-utf8.safetensors", st(notUtf8, new byte[8]));
        f.put("header-not-json.safetensors", st("{\"w\":{\"dtype\":F32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        f.put("header-json-array-not-object.safetensors", st("[{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}]", 8));
        f.put("header-trailing-garbage-after-json.safetensors", st(ok + "[]", 8));
        f.put("duplicate-tensor-name.safetensors", st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8));
        f.put("unknown-dtype.safetensors", st("{\"w\":{\"dtype\":\"F13\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        f.put("negative-shape-entry.safetensors", st("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8));
        f.put("non-integer-shape-entry.safetensors", st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8));
        f.put("shape-byte-size-overflows-64-bits.safetensors",
                st("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8));
        f.put("data-offsets-end-before-begin.safetensors", st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8));
        f.put("data-offsets-span-not-elements-times-dtype-size.safetensors",
                st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12));
        f.put("gap-between-tensors.safetensors", st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12));
        f.put("overlapping-tensors.safetensors", st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        f.put("first-tensor-not-at-offset-0.safetensors", st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8));
        f.put("trailing-bytes-after-tensors.safetensors", st(ok, 12));
        f.put("truncated-data-section.safetensors", st(ok, 5));
        f.put("metadata-value-not-string.safetensors",
                st("{\"__metadata__\":{\"format\":1},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));

        String a = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        String b = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        String s1 = "model-00001-of-00002.safetensors";
        String s2 = "model-00002-of-00002.safetensors";
        // The index names shard 2 for 'b', but shard 2 is not in the directory.
        f.put("index-names-missing-shard/" + s1, st(a, 4));
        f.put("index-names-missing-shard/" + CheckpointFiles.INDEX_FILE, index(Map.of("a", s1, "b", s2)));
        // The index maps 'a' to shard 2, but shard 1 holds it.
        f.put("index-maps-tensor-to-wrong-shard/" + s1, st(a, 4));
        f.put("index-maps-tensor-to-wrong-shard/" + s2, st(b, 4));
        f.put("index-maps-tensor-to-wrong-shard/" + CheckpointFiles.INDEX_FILE, index(Map.of("a", s2, "b", s2)));
        // No index; both shards hold 'a'.
        f.put("tensor-stored-in-two-shards/" + s1, st(a, 4));
        f.put("tensor-stored-in-two-shards/" + s2, st(a, 4));
        // Only a pickle checkpoint (the content does not matter: it must never be opened).
        f.put("only-pytorch-model-bin/pytorch_model.bin", ascii("not a real pickle\n"));
        return f;
    }

    private static byte[] index(Map<String, String> weightMap) {
        StringBuilder sb = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": 8\n  },\n  \"weight_map\": {");
        String sep = "\n";
        for (Map.Entry<String, String> e : new java.util.TreeMap<>(weightMap).entrySet()) {
            sb.append(sep).append("    \"").append(e.getKey()).append("\": \"").append(e.getValue()).append('"');
            sep = ",\n";
        }
        return ascii(sb.append("\n  }\n}\n").toString());
    }

    /** A safetensors file: the header (space-padded to 8 bytes) and {@code dataBytes} bytes 1, 2, 3 ... */
    static byte[] st(String header, int dataBytes) {
        byte[] data = new byte[dataBytes];
        for (int i = 0; i < dataBytes; i++) data[i] = (byte) (i + 1);
        return st(ascii(header), data);
    }

    static byte[] st(byte[] header, byte[] data) {
        int padded = (header.length + 7) & ~7;
        byte[] h = java.util.Arrays.copyOf(header, padded);
        java.util.Arrays.fill(h, header.length, padded, (byte) ' ');
        return concat(u64(padded), h, data);
    }

    /** Latin-1, so that a {@code \u005Cu00ff} in the literal becomes the single byte 0xFF (invalid UTF-8). */
    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) b.put(p);
        return b.array();
    }

    private static void write(Path file, byte[] bytes) {
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
