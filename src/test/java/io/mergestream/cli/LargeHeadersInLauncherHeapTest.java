package io.mergestream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.StoredTensor;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Legal but large headers go through the CLI in the heap the launcher gives it (bin/mergestream's -Xmx and
 * GC, read from the script, so the test follows the launcher): a 99 MB header holding a 60 MB metadata
 * string, a 300,000-tensor header, and a base with two fine-tunes of 100,000 tensors each (an MoE's tensor
 * count). The JVM under test cannot have its heap lowered, so each case runs Main in a child JVM.
 */
class LargeHeadersInLauncherHeapTest {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    /**
     * The launchers' JVM options (bin/jvm.options, the java @argfile both launchers pass), checked to set the heap
     * this test is about: the child JVM gets the file itself, so it runs with exactly the launcher's heap, GC and
     * JIT flags.
     */
    static String launcherOptions() throws IOException {
        Path options = Path.of("bin", "jvm.options").toAbsolutePath();
        String text = Files.readString(options);
        assertTrue(Pattern.compile("(?m)^-Xmx\\d+[mMgG]$").matcher(text).find(), options + " sets no -Xmx");
        assertTrue(Files.readString(Path.of("bin", "mergestream")).contains("@$root/bin/jvm.options"),
                "bin/mergestream does not pass bin/jvm.options");
        return "@" + options;
    }

    record Result(int code, String out, String err) {}

    /** Runs {@code mergestream ARGS} in a child JVM with the launcher's heap. */
    Result cli(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.add(launcherOptions());
        cmd.addAll(List.of("-cp", io.mergestream.TestFiles.childClassPath(), Main.class.getName()));
        cmd.addAll(List.of(args));
        Path out = dir.resolve("child.out");
        Path err = dir.resolve("child.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int code = p.waitFor();
        Result r = new Result(code, Files.readString(out), Files.readString(err));
        assertFalse(r.err().contains("OutOfMemoryError") || r.err().contains("internal error"), r.err());
        return r;
    }

    /** A safetensors file of F32 tensors {@code names[i]} = {@code values[i]}, the header padded to {@code headerBytes}. */
    static void write(Path file, List<String> names, float[][] values, long metadataChars, long headerBytes) throws IOException {
        StringBuilder tensors = new StringBuilder();
        long offset = 0;
        for (int i = 0; i < names.size(); i++) {
            long end = offset + 4L * values[i].length;
            tensors.append(i == 0 ? "" : ",").append('"').append(names.get(i)).append("\":{\"dtype\":\"F32\",\"shape\":[")
                    .append(values[i].length).append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        boolean meta = metadataChars >= 0;
        byte[] head = !meta ? "{".getBytes(StandardCharsets.US_ASCII)
                : "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"".getBytes(StandardCharsets.US_ASCII);
        byte[] afterMeta = !meta ? new byte[0] : "\"},".getBytes(StandardCharsets.US_ASCII);
        byte[] tail = (tensors + "}").getBytes(StandardCharsets.UTF_8);
        long json = head.length + Math.max(0, metadataChars) + afterMeta.length + tail.length;
        long length = headerBytes > 0 ? headerBytes : (json + 7) & ~7L;
        assertTrue(length >= json && length % 8 == 0);
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            o.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array());
            o.write(head);
            byte[] chunk = "x".repeat(1 << 16).getBytes(StandardCharsets.US_ASCII);
            for (long left = metadataChars; left > 0; left -= chunk.length) o.write(chunk, 0, (int) Math.min(chunk.length, left));
            o.write(afterMeta);
            o.write(tail);
            for (long pad = length - json; pad > 0; pad--) o.write(' ');
            ByteBuffer data = ByteBuffer.allocate((int) offset).order(ByteOrder.LITTLE_ENDIAN);
            for (float[] v : values) for (float x : v) data.putFloat(x);
            o.write(data.array());
        }
    }

    static float[] floats(MemorySegment s) {
        float[] f = new float[(int) (s.byteSize() / 4)];
        for (int i = 0; i < f.length; i++) f[i] = s.getAtIndex(F32, i);
        return f;
    }

    @Test
    void a99MegabyteHeaderWithA60MegabyteMetadataStringMerges() throws Exception {
        List<String> names = List.of("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight");
        Path big = Files.createDirectories(dir.resolve("big"));
        Path ft = Files.createDirectories(dir.resolve("ft"));
        // 99,000,000 bytes: under the reference's 100 MB cap, so legal; 60 MB of it one metadata string.
        write(big.resolve("model.safetensors"), names, new float[][] {{1, 2}, {3, 4}, {5, 6}}, 60_000_000L, 99_000_000L);
        write(ft.resolve("model.safetensors"), names, new float[][] {{3, 4}, {5, 8}, {9, 10}}, -1, 0);
        assertEquals(8 + 99_000_000L + 24, Files.size(big.resolve("model.safetensors")));
        Path recipe = Files.writeString(dir.resolve("r.yml"), "merge_method: linear\nmodels:\n  - model: " + big
                + "\n    parameters: {weight: 0.5}\n  - model: " + ft + "\n    parameters: {weight: 0.5}\n");
        Path out = dir.resolve("out");
        Result r = cli("merge", recipe.toString(), "-o", out.toString(), "-q", "--threads", "1");
        assertEquals(0, r.code(), r.err());
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(Map.of("format", "pt"), ((io.mergestream.format.safetensors.SafetensorsFile) c.shards().get(0)).metadata());
            float[][] expected = {{2, 3}, {4, 6}, {7, 8}};
            for (int i = 0; i < names.size(); i++) {
                assertEquals(java.util.Arrays.toString(expected[i]), java.util.Arrays.toString(floats(c.tensor(names.get(i)).data())),
                        names.get(i));
            }
        }
        try (Checkpoint c = Checkpoint.open(big)) {
            assertEquals(99_000_000L, ((io.mergestream.format.safetensors.SafetensorsFile) c.shards().get(0)).headerLength());
        }
    }

    static List<String> moeNames(int n) {
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) names.add("model.layers." + i / 1000 + ".mlp.experts." + i % 1000 + ".down_proj.weight");
        return names;
    }

    @Test
    void threeHundredThousandTensorsInspect() throws Exception {
        int n = 300_000;
        float[][] v = new float[n][];
        for (int i = 0; i < n; i++) v[i] = new float[] {i};
        Path model = Files.createDirectories(dir.resolve("m300k"));
        write(model.resolve("model.safetensors"), moeNames(n), v, -1, 0);
        Result r = cli("inspect", model.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\ntensors     300000\n"), r.out());
        assertTrue(r.out().contains("parameters  300,000 "), r.out());
    }

    /**
     * Two models of 300,000 tensors each merged in the launcher's heap: every per-tensor structure of a merge
     * (input headers, plan, output layout, index) at its largest. Each tensor is one chunk, so this also shows
     * what a merge costs per tensor rather than per byte.
     */
    @Test
    void twoModelsOf300000TensorsMergeWithLinear() throws Exception {
        int n = 300_000;
        List<String> names = moeNames(n);
        Path[] models = new Path[2];
        for (int m = 0; m < 2; m++) {
            float[][] v = new float[n][];
            // model m, tensor i = [i + 2m, 1 + 2m]
            for (int i = 0; i < n; i++) v[i] = new float[] {i + 2 * m, 1 + 2 * m};
            models[m] = Files.createDirectories(dir.resolve("big" + m));
            write(models[m].resolve("model.safetensors"), names, v, -1, 0);
        }
        // weights 1/2, 1/2: tensor i = [i + 1, 2], exactly in f32 (i < 2^24)
        Path recipe = Files.writeString(dir.resolve("two.yml"), "merge_method: linear\nmodels:\n"
                + "  - model: " + models[0] + "\n    parameters: {weight: 0.5}\n"
                + "  - model: " + models[1] + "\n    parameters: {weight: 0.5}\n");
        Path out = dir.resolve("merged");
        // 8 shards: the index (300,000 names) is written too
        Result r = cli("merge", recipe.toString(), "-o", out.toString(), "-q", "--out-shard-size", "300KB");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("merged 300000 tensors (linear"), r.err());
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(n, c.tensorCount());
            assertEquals(8, c.shards().size());
            for (int i = 0; i < n; i++) {
                StoredTensor t = c.tensor(names.get(i));
                float[] f = floats(t.data());
                if (f.length != 2 || f[0] != i + 1f || f[1] != 2f) {
                    throw new AssertionError(names.get(i) + " = " + java.util.Arrays.toString(f) + ", expected [" + (i + 1) + ", 2]");
                }
            }
        }
    }

    @Test
    void baseAndTwoFineTunesOf100000TensorsMergeWithLinear() throws Exception {
        int n = 100_000;
        List<String> names = moeNames(n);
        Path[] models = new Path[3];
        for (int m = 0; m < 3; m++) {
            float[][] v = new float[n][];
            // model m, tensor i = [i + 2m, 1 + 2m]
            for (int i = 0; i < n; i++) v[i] = new float[] {i + 2 * m, 1 + 2 * m};
            models[m] = Files.createDirectories(dir.resolve("m" + m));
            write(models[m].resolve("model.safetensors"), names, v, -1, 0);
        }
        // weights 1/2, 1/4, 1/4 (exact in binary): tensor i = [i + 1.5, 2.5], exactly, in f32
        Path recipe = Files.writeString(dir.resolve("moe.yml"), "merge_method: linear\nmodels:\n"
                + "  - model: " + models[0] + "\n    parameters: {weight: 0.5}\n"
                + "  - model: " + models[1] + "\n    parameters: {weight: 0.25}\n"
                + "  - model: " + models[2] + "\n    parameters: {weight: 0.25}\n");
        Path out = dir.resolve("merged");
        Result r = cli("merge", recipe.toString(), "-o", out.toString(), "-q");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("merged 100000 tensors (linear"), r.err());
        try (Checkpoint c = Checkpoint.open(out)) {
            assertEquals(n, c.tensorCount());
            for (int i = 0; i < n; i++) {
                StoredTensor t = c.tensor(names.get(i));
                float[] f = floats(t.data());
                if (f.length != 2 || f[0] != i + 1.5f || f[1] != 2.5f) {
                    throw new AssertionError(names.get(i) + " = " + java.util.Arrays.toString(f) + ", expected [" + (i + 1.5) + ", 2.5]");
                }
            }
        }
    }
}
