package io.mergestream.api;

/**
 * What a finished run did.
 *
 * @param method        the merge method, as the recipe names it
 * @param tensors       output tensors written
 * @param bytesRead     input bytes read
 * @param bytesWritten  output tensor bytes written
 * @param seconds       wall time of the run
 * @param kernel        the kernel that ran ({@code vector}, {@code scalar}, {@code native})
 * @param peakRssBytes  the process's peak resident set so far (0 where the system does not say)
 * @param peakHeapBytes the Java heap's peak use so far
 */
public record RunResult(String method, int tensors, long bytesRead, long bytesWritten, double seconds, String kernel,
                        long peakRssBytes, long peakHeapBytes) {

    /**
     * Input bytes per second.
     *
     * @return input bytes per second
     */
    public long inputBytesPerSecond() {
        return (long) (bytesRead / Math.max(seconds, 1e-9));
    }
}
