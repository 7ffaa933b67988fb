package io.mergestream.cli;

import io.mergestream.Warnings;
import io.mergestream.api.MergeListener;
import io.mergestream.api.MergeOptions;
import io.mergestream.api.Plan;
import io.mergestream.engine.Progress;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The command line's listener for a library merge: warnings and notices to the process-wide listener (lines on
 * stderr, see {@link Main}), progress as the live
 * display ({@link Progress}: a bar on a terminal, a line every few seconds otherwise, nothing when quiet).
 * Close it when the run returns, whatever happened, to stop the display.
 */
final class CliListener implements MergeListener, AutoCloseable {

    private final Progress.Mode mode;
    private final AtomicLong reported = new AtomicLong();
    private volatile Progress display;

    CliListener(Progress.Mode mode) {
        this.mode = mode;
    }

    /**
     * Runs {@code run} with {@code options} and a listener of this kind (no display with {@code --quiet}), the
     * display stopped when it returns or fails, so that the caller's summary line comes after it.
     */
    static <T> T showing(boolean quiet, MergeOptions.Builder options, Function<MergeOptions, T> run) {
        try (CliListener listener = new CliListener(Terminal.progress(quiet))) {
            return run.apply(options.listener(listener).build());
        }
    }

    @Override
    public void started(Plan plan) {
        display = new Progress(System.err, mode, plan.inputBytes(), plan.tensors().size());
    }

    @Override
    public void tensorStarted(String name, int index, int count) {
        display.startTensor(name);
    }

    @Override
    public void chunkFinished(String tensor, long bytesDone, long bytesTotal) {
        // the display counts increments; the library reports running totals (from several threads)
        long before = reported.getAndAccumulate(bytesDone, Math::max);
        if (bytesDone > before) display.add(bytesDone - before);
    }

    @Override
    public void tensorFinished(String name, int index, int count) {
        display.finishTensor();
    }

    @Override
    public void warning(String message) {
        Warnings.processWide().warning(message);
    }

    @Override
    public void notice(String message) {
        Warnings.processWide().note(message);
    }

    @Override
    public void close() {
        Progress p = display;
        if (p != null) p.close();
    }
}
