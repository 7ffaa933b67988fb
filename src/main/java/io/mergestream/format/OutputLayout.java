package io.mergestream.format;

import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each output tensor goes: which shard, at which offset. Computed before any data is written, from
 * names, dtypes and shapes alone, so that headers can be written first and data streamed after.
 *
 * <p>Tensors fill shards in the given order; a new shard starts when the next tensor would push the current
 * one past {@code maxShardBytes} (a tensor larger than the limit gets a shard of its own), as mergekit and
 * transformers shard. Within a shard, data is ordered as the reference writer orders it (dtype alignment
 * descending, then name), which also keeps every tensor naturally aligned.
 */
public final class OutputLayout {

    /** One planned output tensor. */
    public record Entry(String name, DType dtype, long[] shape) {
        long byteSize() {
            return Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
        }
    }

    /** One planned shard: its file name and tensors with their data offsets, in data order. */
    public record Shard(String fileName, List<TensorInfo> tensors, long dataBytes) {}

    private final List<Shard> shards;
    private final Map<String, Integer> shardOf = new LinkedHashMap<>();
    private final long totalBytes;

    private OutputLayout(List<Shard> shards) {
        this.shards = List.copyOf(shards);
        long total = 0;
        for (int i = 0; i < shards.size(); i++) {
            for (TensorInfo t : shards.get(i).tensors()) shardOf.put(t.name(), i);
            total += shards.get(i).dataBytes();
        }
        this.totalBytes = total;
    }

    public static OutputLayout plan(List<Entry> entries, long maxShardBytes) {
        List<List<Entry>> groups = new ArrayList<>();
        List<Entry> current = new ArrayList<>();
        long currentBytes = 0;
        for (Entry e : entries) {
            long size = e.byteSize();
            if (!current.isEmpty() && currentBytes + size > maxShardBytes) {
                groups.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(e);
            currentBytes += size;
        }
        if (!current.isEmpty() || groups.isEmpty()) groups.add(current);

        List<Shard> shards = new ArrayList<>();
        for (int i = 0; i < groups.size(); i++) {
            String file = groups.size() == 1 ? CheckpointFiles.SINGLE_FILE
                    : String.format(java.util.Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, groups.size());
            List<Entry> ordered = new ArrayList<>(groups.get(i));
            ordered.sort(Comparator.comparingInt((Entry e) -> -referenceRank(e.dtype())).thenComparing(Entry::name));
            List<TensorInfo> placed = new ArrayList<>();
            long offset = 0;
            for (Entry e : ordered) {
                long end = offset + e.byteSize();
                placed.add(new TensorInfo(e.name(), e.dtype(), e.shape(), offset, end));
                offset = end;
            }
            shards.add(new Shard(file, placed, offset));
        }
        return new OutputLayout(shards);
    }

    /** The reference implementation's dtype order (by alignment), used to order tensors within a shard. */
    private static int referenceRank(DType t) {
        return switch (t) {
            case BOOL -> 0;
            case U8 -> 1;
            case I8 -> 2;
            case F8_E5M2 -> 3;
            case F8_E4M3 -> 4;
            case I16 -> 5;
            case U16 -> 6;
            case F16 -> 7;
            case BF16 -> 8;
            case I32 -> 9;
            case U32 -> 10;
            case F32 -> 11;
            case F64 -> 12;
            case I64 -> 13;
            case U64 -> 14;
        };
    }

    public List<Shard> shards() {
        return shards;
    }

    public boolean isSharded() {
        return shards.size() > 1;
    }

    /** Sum of all tensors' bytes: the index's {@code metadata.total_size}. */
    public long totalBytes() {
        return totalBytes;
    }

    public int shardIndexOf(String tensor) {
        Integer i = shardOf.get(tensor);
        if (i == null) throw new IllegalArgumentException("tensor not in the output layout: " + tensor);
        return i;
    }
}
