package io.mergestream.format;

import java.util.function.IntFunction;

/**
 * Names to their places {@code 0 .. count-1} in about 8 bytes a name (open addressing, load at most 1/2),
 * where a HashMap takes about 50: an input checkpoint and the output layout each index up to hundreds of
 * thousands of tensor names on the launcher's 128 MB heap. The names themselves stay where they are;
 * {@code nameAt} gives the name of a place.
 */
public final class NameIndex {

    private final int[] slots; // place + 1; 0 = empty; linear probing
    private final int shift;
    private final IntFunction<String> nameAt;

    public NameIndex(int count, IntFunction<String> nameAt) {
        int capacity = Integer.highestOneBit(Math.max(2, count) * 2 - 1) << 1;
        this.slots = new int[capacity];
        this.shift = 32 - Integer.numberOfTrailingZeros(capacity);
        this.nameAt = nameAt;
    }

    /**
     * Fibonacci hashing: the top bits of hashCode times 2^32/phi. Names such as layers.{i}.experts.{j}
     * have String hashes that differ in a few low digits, which clustered linear probing on the low bits.
     */
    private int slot(String name) {
        return (name.hashCode() * 0x9E3779B9) >>> shift;
    }

    /** Indexes {@code place} under its name; returns the place already holding that name (nothing added), or -1. */
    public int add(int place) {
        String name = nameAt.apply(place);
        int s = slot(name);
        for (; slots[s] != 0; s = (s + 1) & (slots.length - 1)) {
            if (nameAt.apply(slots[s] - 1).equals(name)) return slots[s] - 1;
        }
        slots[s] = place + 1;
        return -1;
    }

    /** The place of {@code name}, or -1. */
    public int find(String name) {
        for (int s = slot(name); slots[s] != 0; s = (s + 1) & (slots.length - 1)) {
            if (nameAt.apply(slots[s] - 1).equals(name)) return slots[s] - 1;
        }
        return -1;
    }
}
