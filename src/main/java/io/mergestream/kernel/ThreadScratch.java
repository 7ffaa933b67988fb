package io.mergestream.kernel;

/**
 * Per-thread scratch arrays for the passes that compute on f32 blocks (a block or a chunk long): each holder hands
 * the calling thread the same arrays call after call, grown to the largest length asked, instead of new arrays per
 * block. What one call returns is valid until the same thread asks the same holder again.
 */
public final class ThreadScratch {

    private final ThreadLocal<float[][]> floats = ThreadLocal.withInitial(() -> new float[0][]);
    private final ThreadLocal<int[]> ints = ThreadLocal.withInitial(() -> new int[0]);

    /** {@code arrays} f32 arrays of at least {@code length} each. */
    public float[][] floats(int arrays, int length) {
        float[][] s = floats.get();
        if (s.length != arrays || s[0].length < length) {
            s = new float[arrays][Math.max(length, s.length == 0 ? 0 : s[0].length)];
            floats.set(s);
        }
        return s;
    }

    /** An int array of at least {@code length}. */
    public int[] ints(int length) {
        int[] s = ints.get();
        if (s.length < length) {
            s = new int[length];
            ints.set(s);
        }
        return s;
    }
}
