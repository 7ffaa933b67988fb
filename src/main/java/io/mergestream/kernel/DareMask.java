package io.mergestream.kernel;

import java.nio.charset.StandardCharsets;

/**
 * The DARE keep-mask, version 1 (spec/dare-mask.md, normative): a counter-based hash of
 * (seed, model ordinal, tensor name, flat element index), so any element's bit can be produced alone, by
 * any thread, in any chunk. All arithmetic is unsigned with wrap-around.
 */
public final class DareMask {

    /** 2^32: the threshold that keeps every element. */
    public static final long KEEP_ALL = 1L << 32;

    private DareMask() {}

    /** The splitmix64 finalizer. */
    public static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** FNV-1a, 64 bit, over the bytes as unsigned values. */
    public static long fnv1a64(byte[] bytes) {
        long h = 0xCBF29CE484222325L;
        for (byte b : bytes) {
            h = (h ^ (b & 0xFF)) * 0x100000001B3L;
        }
        return h;
    }

    /** A 32-bit integer hash (Chris Wellons' lowbias32); 32-bit multiplies vectorise on every x86 level. */
    public static int lowbias32(int x) {
        x ^= x >>> 16;
        x *= 0x21F0AAAD;
        x ^= x >>> 15;
        x *= 0x735A2D97;
        x ^= x >>> 15;
        return x;
    }

    /** The per-(seed, model, tensor) key; {@code model} is the 0-based ordinal among the non-base models. */
    public static long streamKey(long seed, int model, String tensorName) {
        long modelMix = mix64(seed + 0x9E3779B97F4A7C15L * (model + 1L));
        return mix64(modelMix ^ fnv1a64(tensorName.getBytes(StandardCharsets.UTF_8)));
    }

    /** The low 32 bits of a stream key. */
    public static int k0(long streamKey) {
        return (int) streamKey;
    }

    /** The high 32 bits of a stream key. */
    public static int k1(long streamKey) {
        return (int) (streamKey >>> 32);
    }

    /** The uniform draw for flat index {@code i}; compare it unsigned ({@link #keep}). */
    public static int u(long i, int k0, int k1) {
        return lowbias32(lowbias32((int) i ^ k0) ^ k1 ^ (int) (i >>> 32));
    }

    /** 2^32 if density >= 1, else floor(density * 2^32) computed in double precision. */
    public static long threshold(double density) {
        if (density >= 1) return KEEP_ALL;
        return (long) Math.floor(density * 4294967296.0);
    }

    /** Whether element {@code i} is kept: {@code u(i) < threshold}, unsigned. */
    public static boolean keep(long i, int k0, int k1, long threshold) {
        return Integer.toUnsignedLong(u(i, k0, k1)) < threshold;
    }

    /** A Random sparsifier for one model's tensor, with its threshold and key resolved. */
    public static Sparsifier.Random sparsifier(long seed, int model, String tensorName, double density,
                                               boolean rescale) {
        // The threshold comes from the recipe's double density, not from its f32 rounding.
        long key = streamKey(seed, model, tensorName);
        return new Sparsifier.Random(threshold(density), k0(key), k1(key), (float) density, rescale);
    }
}
