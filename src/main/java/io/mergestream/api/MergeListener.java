package io.mergestream.api;

/**
 * What a merge reports as it goes, instead of printing it: implement the methods you care about (all do nothing
 * by default). Tensor events and warnings arrive on the thread that called the merge; chunk events arrive on the
 * worker threads, concurrently, so an implementation must be thread-safe and quick (it runs between chunks).
 * A listener may call {@link Merge#cancel()}.
 */
public interface MergeListener {

    /** The listener that ignores everything (warnings then go to {@link System.Logger} {@code io.mergestream}). */
    MergeListener NONE = new MergeListener() { };

    /**
     * The run has been planned and checked and is about to write its first tensor.
     *
     * @param plan what it will do (its totals are those of the chunk events)
     */
    default void started(Plan plan) {}

    /**
     * Output tensor {@code index} (from 0) of {@code count} is starting.
     *
     * @param name  the tensor's name
     * @param index its place in the run
     * @param count the run's tensors
     */
    default void tensorStarted(String name, int index, int count) {}

    /**
     * One chunk of {@code tensor} is finished; {@code bytesDone} of {@code bytesTotal} input bytes are merged.
     *
     * @param tensor     the tensor the chunk belongs to
     * @param bytesDone  input bytes merged so far in the run
     * @param bytesTotal input bytes the run reads
     */
    default void chunkFinished(String tensor, long bytesDone, long bytesTotal) {}

    /**
     * Output tensor {@code index} of {@code count} is finished: all its bytes are in the output.
     *
     * @param name  the tensor's name
     * @param index its place in the run
     * @param count the run's tensors
     */
    default void tensorFinished(String name, int index, int count) {}

    /**
     * A warning: something the merge went on despite (a recipe key mergekit ignores, non-finite values in a
     * tensor, files kept in a replaced output). One line naming the file, tensor or key.
     *
     * @param message the warning
     */
    default void warning(String message) {
        System.getLogger("io.mergestream").log(System.Logger.Level.WARNING, message);
    }

    /**
     * An informational line (which kernel runs and why), logged to {@link System.Logger} by default.
     *
     * @param message the notice
     */
    default void notice(String message) {
        System.getLogger("io.mergestream").log(System.Logger.Level.INFO, message);
    }
}
