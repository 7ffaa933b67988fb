package io.mergestream.format;

import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.safetensors.ShardedWriter;
import io.mergestream.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Writes small checkpoints for tests with the production writer: OutputLayout + ShardedWriter. */
public final class TestCheckpoints {

    private TestCheckpoints() {}

    /** A tensor to write: name, dtype, shape and exactly elements × dtype-size bytes. */
    public record Tensor(String name, DType dtype, long[] shape, byte[] bytes) {
        public Tensor {
            long expected = OutputLayoutEntries.byteSize(dtype, shape);
            if (bytes.length != expected) throw new IllegalArgumentException(name + ": " + bytes.length + " != " + expected);
        }
    }

    private static final class OutputLayoutEntries {
        static long byteSize(DType d, long[] shape) {
            long n = 1;
            for (long s : shape) n *= s;
            return n * d.byteSize();
        }
    }

    public static Tensor random(Random rnd, String name, DType dtype, long... shape) {
        byte[] b = new byte[(int) OutputLayoutEntries.byteSize(dtype, shape)];
        rnd.nextBytes(b);
        return new Tensor(name, dtype, shape, b);
    }

    /** Writes {@code tensors} into the existing directory {@code dir}; returns the layout used. */
    public static OutputLayout write(Path dir, List<Tensor> tensors, long maxShardBytes) {
        List<OutputLayout.Entry> entries = new ArrayList<>();
        for (Tensor t : tensors) entries.add(new OutputLayout.Entry(t.name(), t.dtype(), t.shape()));
        OutputLayout layout = OutputLayout.plan(entries, maxShardBytes);
        try (ShardedWriter w = ShardedWriter.create(dir, layout)) {
            for (Tensor t : tensors) {
                w.write(t.name(), 0, MemorySegment.ofArray(t.bytes()));
            }
            w.finish();
        }
        return layout;
    }

    /** Every tensor of {@code ckpt}, its bytes copied onto the heap, by name in checkpoint order. */
    public static Map<String, Tensor> readAll(Checkpoint ckpt) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (StoredTensor t : ckpt.tensors()) {
            out.put(t.name(), new Tensor(t.name(), t.info().dtype(), t.info().shape(),
                    t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
        }
        return out;
    }
}
