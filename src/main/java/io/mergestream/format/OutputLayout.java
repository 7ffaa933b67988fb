package io.mergestream.format;

import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

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

    /**
     * One planned shard: its file name and tensors with their data offsets, in data order ({@code tensors} is
     * a view: each {@link TensorInfo} is made when read).
     */
    public record Shard(String fileName, List<TensorInfo> tensors, long dataBytes) {}

    private static final DType[] DTYPES = DType.values();

    // Per tensor, in the order given (an MoE output has 300,000: columns, not a record and a map entry each)
    private final String[] names;
    private final byte[] dtypes;
    private final long[][] shapes; // shared arrays (TensorInfo.sharedShape)
    private final long[] begins;   // data offset within its shard
    private final int[] shardOf;
    private final NameIndex byName;
    private final List<Shard> shards;
    private final long totalBytes;

    private OutputLayout(List<Entry> entries, long maxShardBytes) {
        int n = entries.size();
        names = new String[n];
        dtypes = new byte[n];
        shapes = new long[n][];
        begins = new long[n];
        shardOf = new int[n];
        byName = new NameIndex(n, i -> names[i]);
        List<int[]> groups = new ArrayList<>(); // [first, end) of each shard's entries
        int first = 0;
        long currentBytes = 0;
        for (int i = 0; i < n; i++) {
            Entry e = entries.get(i);
            names[i] = e.name();
            dtypes[i] = (byte) e.dtype().ordinal();
            shapes[i] = TensorInfo.sharedShape(e.shape());
            if (byName.add(i) >= 0) throw new IllegalArgumentException("output tensor planned twice: " + e.name());
            long size = e.byteSize();
            if (i > first && currentBytes + size > maxShardBytes) {
                groups.add(new int[] {first, i});
                first = i;
                currentBytes = 0;
            }
            currentBytes += size;
        }
        if (first < n || groups.isEmpty()) groups.add(new int[] {first, n});

        List<Shard> planned = new ArrayList<>();
        long total = 0;
        for (int g = 0; g < groups.size(); g++) {
            String file = groups.size() == 1 ? CheckpointFiles.SINGLE_FILE
                    : String.format(java.util.Locale.ROOT, "model-%05d-of-%05d.safetensors", g + 1, groups.size());
            int[] members = java.util.stream.IntStream.range(groups.get(g)[0], groups.get(g)[1]).boxed()
                    .sorted(Comparator.comparingInt((Integer i) -> -referenceRank(DTYPES[dtypes[i]])).thenComparing(i -> names[i]))
                    .mapToInt(Integer::intValue).toArray();
            long offset = 0;
            for (int i : members) {
                begins[i] = offset;
                shardOf[i] = g;
                offset += byteSize(i);
            }
            planned.add(new Shard(file, new Placed(members), offset));
            total += offset;
        }
        this.shards = List.copyOf(planned);
        this.totalBytes = total;
    }

    public static OutputLayout plan(List<Entry> entries, long maxShardBytes) {
        return new OutputLayout(entries, maxShardBytes);
    }

    /** A shard's tensors in data order, made from the columns on access. */
    private final class Placed extends java.util.AbstractList<TensorInfo> implements java.util.RandomAccess {
        private final int[] members;

        Placed(int[] members) {
            this.members = members;
        }

        @Override
        public TensorInfo get(int k) {
            return info(members[k]);
        }

        @Override
        public int size() {
            return members.length;
        }
    }

    private TensorInfo info(int i) {
        return new TensorInfo(names[i], DTYPES[dtypes[i]], shapes[i], begins[i], begins[i] + byteSize(i));
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
        return shardOf[place(tensor)];
    }

    /** The tensor's place in the order the layout was planned from; IllegalArgumentException if it has none. */
    public int place(String tensor) {
        int i = byName.find(tensor);
        if (i < 0) throw new IllegalArgumentException("tensor not in the output layout: " + tensor);
        return i;
    }

    /** The shard of the tensor at {@code place}. */
    public int shardOf(int place) {
        return shardOf[place];
    }

    /** Where the tensor at {@code place} starts in its shard's data section. */
    public long begin(int place) {
        return begins[place];
    }

    public long byteSize(int place) {
        return Math.multiplyExact(TensorInfo.elementCount(shapes[place]), DTYPES[dtypes[place]].byteSize());
    }

    /** The tensor as planned: name, dtype, shape and its range in its shard's data section. */
    public TensorInfo info(String tensor) {
        return info(place(tensor));
    }

    /** The output tensors' names in the order the layout was planned from (a copy). */
    public String[] names() {
        return names.clone();
    }
}
