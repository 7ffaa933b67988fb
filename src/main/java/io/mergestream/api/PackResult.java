package io.mergestream.api;

/**
 * What {@link Merge#writePack(java.nio.file.Path, int)} wrote.
 *
 * @param deltas     tensors stored as their kept delta values
 * @param wholes     tensors stored whole (excluded, or not floating point)
 * @param modelBytes the bytes of the fine-tune's tensors the pack stands for
 * @param packBytes  the pack file's size
 * @param kept       delta values kept
 * @param keptBytes  bytes the kept values take in the pack (compressed)
 * @param bytesRead  input bytes read
 * @param seconds    wall time of the run
 */
public record PackResult(int deltas, int wholes, long modelBytes, long packBytes, long kept, long keptBytes,
                         long bytesRead, double seconds) {

    /**
     * The pack's size as a fraction of the model's.
     *
     * @return the pack's size as a fraction of the model's
     */
    public double ratio() {
        return (double) packBytes / Math.max(1, modelBytes);
    }

    /**
     * Bits the pack spends per kept value.
     *
     * @return bits the pack spends per kept value
     */
    public double bitsPerKept() {
        return kept == 0 ? 0 : 8.0 * keptBytes / kept;
    }
}
