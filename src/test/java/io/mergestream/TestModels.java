package io.mergestream;

import io.mergestream.format.OutputLayout;
import io.mergestream.format.safetensors.ShardedWriter;
import io.mergestream.tensor.BFloat16;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.Float16;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes small checkpoints from float arrays for tests, and reads tensors back as floats. */
public final class TestModels {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TestModels() {}

    /** A tensor to write: values are rounded to the dtype. */
    public record T(String name, long[] shape, float[] values) {}

    /** A model builder keeping tensor order. */
    public static final class Model {
        final Map<String, T> tensors = new LinkedHashMap<>();

        public Model put(String name, long[] shape, float[] values) {
            tensors.put(name, new T(name, shape, values));
            return this;
        }
    }

    public static Path write(Path dir, DType dtype, Model model) {
        return write(dir, dtype, model, Long.MAX_VALUE);
    }

    public static Path write(Path dir, DType dtype, Model model, long shardBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<OutputLayout.Entry> entries = new ArrayList<>();
        for (T t : model.tensors.values()) entries.add(new OutputLayout.Entry(t.name(), dtype, t.shape()));
        try (ShardedWriter w = ShardedWriter.create(dir, OutputLayout.plan(entries, shardBytes))) {
            for (T t : model.tensors.values()) {
                MemorySegment seg = MemorySegment.ofArray(new byte[t.values().length * dtype.byteSize()]);
                for (int i = 0; i < t.values().length; i++) encode(seg, dtype, i, t.values()[i]);
                w.write(t.name(), 0, seg);
            }
            w.finish();
        }
        return dir;
    }

    public static void encode(MemorySegment seg, DType dtype, long i, float v) {
        switch (dtype) {
            case F32 -> seg.set(F32, i * 4, v);
            case BF16 -> seg.set(I16, i * 2, BFloat16.fromFloat(v));
            case F16 -> seg.set(I16, i * 2, Float16.fromFloat(v));
            default -> throw new IllegalArgumentException(dtype.toString());
        }
    }

    /** Decodes independently of the kernels: bf16 by shifting, f16 by the JDK. */
    public static float decode(MemorySegment seg, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> seg.get(F32, i * 4);
            case BF16 -> Float.intBitsToFloat(seg.get(I16, i * 2) << 16);
            case F16 -> Float.float16ToFloat(seg.get(I16, i * 2));
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }

    public static float[] decodeAll(MemorySegment seg, DType dtype) {
        float[] out = new float[(int) (seg.byteSize() / dtype.byteSize())];
        for (int i = 0; i < out.length; i++) out[i] = decode(seg, dtype, i);
        return out;
    }

    /** Rounds a float to what the dtype can hold (a write then a read). */
    public static float round(float v, DType dtype) {
        return switch (dtype) {
            case F32 -> v;
            case BF16 -> BFloat16.toFloat(BFloat16.fromFloat(v));
            case F16 -> Float16.toFloat(Float16.fromFloat(v));
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }
}
