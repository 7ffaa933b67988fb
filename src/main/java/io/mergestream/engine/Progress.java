package io.mergestream.engine;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A run's progress: counted for {@link Events} (the library API's listener) and, for the command line, shown on
 * stderr. On a terminal, a live bar redrawn in place (bytes done of total, GB/s, ETA, current
 * tensor); otherwise a plain line every few seconds, for logs; nothing at all when quiet. The final summary
 * line is always printed. Workers only add to an atomic counter; a daemon thread does the printing.
 */
public final class Progress implements AutoCloseable {

    public enum Mode { TERMINAL, LINES, QUIET }

    /** What a run reports as it goes (the library API adapts its listener to this); every method may be left out. */
    public interface Events {
        /** Tensor {@code index} (from 0) of {@code count} is starting; on the engine's calling thread. */
        default void tensorStarted(String name, int index, int count) {}

        /** One chunk of {@code tensor} is done: {@code done} of {@code total} input bytes; on a worker thread. */
        default void chunkDone(String tensor, long done, long total) {}

        /** Tensor {@code index} of {@code count} is finished (all its bytes handed to the output). */
        default void tensorFinished(String name, int index, int count) {}
    }

    private static final Events NONE = new Events() { };

    private static final long TERMINAL_PERIOD_MS = 200;
    private static final long LINES_PERIOD_MS = 5000;

    /**
     * The stream of a progress that displays nothing (the library's runs, the packer's): {@link Mode#QUIET} never
     * writes to it, but the engine's options and the constructor take one.
     */
    public static final PrintStream NO_DISPLAY = new PrintStream(java.io.OutputStream.nullOutputStream(), false,
            java.nio.charset.StandardCharsets.UTF_8);

    private final PrintStream err;
    private final Mode mode;
    private final long totalBytes;
    private final long reportedTotal;
    private final int totalTensors;
    private final Events events;
    private final AtomicLong done = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private volatile String currentTensor = "";
    private volatile int tensorsDone;
    private final Thread printer;
    private final Eta eta = new Eta();

    public Progress(PrintStream err, Mode mode, long totalBytes, int totalTensors) {
        this(err, mode, totalBytes, totalTensors, NONE);
    }

    /** As {@link #Progress(PrintStream, Mode, long, int)}, also reporting to {@code events}. */
    public Progress(PrintStream err, Mode mode, long totalBytes, int totalTensors, Events events) {
        this.err = err;
        this.mode = mode;
        this.events = java.util.Objects.requireNonNull(events);
        this.reportedTotal = totalBytes;
        this.totalBytes = Math.max(totalBytes, 1);
        this.totalTensors = totalTensors;
        if (mode == Mode.QUIET) {
            printer = null;
        } else {
            printer = new Thread(this::printLoop, "mergestream-progress");
            printer.setDaemon(true);
            printer.start();
        }
    }

    public void startTensor(String name) {
        currentTensor = name;
        events.tensorStarted(name, tensorsDone, totalTensors);
    }

    public void finishTensor() {
        events.tensorFinished(currentTensor, tensorsDone, totalTensors);
        tensorsDone++;
    }

    public void add(long bytes) {
        long d = done.addAndGet(bytes);
        events.chunkDone(currentTensor, d, reportedTotal);
    }

    public double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private void printLoop() {
        long period = mode == Mode.TERMINAL ? TERMINAL_PERIOD_MS : LINES_PERIOD_MS;
        try {
            while (!Thread.currentThread().isInterrupted()) {
                Thread.sleep(period);
                long d = done.get();
                long etaSeconds = eta.update(seconds(), d, totalBytes);
                if (mode == Mode.TERMINAL) {
                    err.print("\r\033[K" + line(true, d, etaSeconds));
                } else {
                    err.println("mergestream: " + line(false, d, etaSeconds));
                }
                err.flush();
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    private String line(boolean bar, long d, long etaSeconds) {
        return line(bar, d, totalBytes, seconds(), etaSeconds, Math.min(tensorsDone + 1, totalTensors), totalTensors,
                currentTensor);
    }

    /**
     * One progress line: {@code [####      ] 42.0% 1.23/2.94 GB 1.61 GB/s ETA 1m12s 7/21 NAME} (tensor 7 of 21),
     * at most {@value #COLUMNS} - 1 columns so that a terminal never wraps it (a wrapped line cannot be redrawn
     * in place); the tensor name is cut from the left, where names share their prefix.
     */
    static String line(boolean bar, long done, long total, double seconds, long etaSeconds, int tensor, int tensors,
                       String name) {
        double frac = Math.min(1.0, (double) done / total);
        StringBuilder sb = new StringBuilder();
        if (bar) {
            int width = 10;
            int filled = (int) (frac * width);
            sb.append('[').append("#".repeat(filled)).append(" ".repeat(width - filled)).append("] ");
        }
        sb.append(String.format(Locale.ROOT, "%.1f%% %.2f/%.2f GB %s ETA %s %d/%d ", frac * 100,
                done / 1e9, total / 1e9, rate(done / Math.max(seconds, 1e-9)),
                etaSeconds < 0 ? "--" : duration(etaSeconds), tensor, tensors));
        int room = COLUMNS - 1 - sb.length();
        if (room >= 8) sb.append(name.length() <= room ? name : "…" + name.substring(name.length() - room + 1));
        return sb.toString().stripTrailing();
    }

    /** The width progress lines fit in: the classic terminal's (COLUMNS is rarely exported to programs). */
    static final int COLUMNS = 80;

    /** A rate in GB/s, the one unit of the progress line and the summary. */
    public static String rate(double bytesPerSecond) {
        return String.format(Locale.ROOT, "%.2f GB/s", bytesPerSecond / 1e9);
    }

    /** Whole seconds as people read them: {@code 45s}, {@code 1m12s}, {@code 2h05m}. */
    public static String duration(long seconds) {
        if (seconds < 60) return seconds + "s";
        if (seconds < 3600) return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
        return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
    }

    /**
     * The remaining time, from the rate smoothed over the last ~{@value #SMOOTHING_SECONDS} s. Nothing is
     * estimated in the first {@value #WARMUP_SECONDS} s (page cache, JIT and the first tensors' setup make the
     * first rates wild); the average over that warm-up seeds the rate, and every later sample moves it by
     * {@code 1 - exp(-dt / SMOOTHING_SECONDS)} of the way to the rate since the previous sample.
     */
    static final class Eta {
        static final double WARMUP_SECONDS = 2.0;
        static final double SMOOTHING_SECONDS = 10.0;
        private double rate = -1;
        private double lastSeconds;
        private long lastDone;

        /** The estimate after a sample at {@code seconds} with {@code done} of {@code total} bytes; -1: none yet. */
        long update(double seconds, long done, long total) {
            if (done >= total) return 0;
            if (rate < 0) {
                if (seconds < WARMUP_SECONDS || done <= 0) return -1;
                rate = done / seconds;
            } else if (seconds > lastSeconds) {
                double recent = (done - lastDone) / (seconds - lastSeconds);
                rate += (1 - Math.exp(-(seconds - lastSeconds) / SMOOTHING_SECONDS)) * (recent - rate);
            }
            lastSeconds = seconds;
            lastDone = done;
            return rate > 0 ? (long) Math.ceil((total - done) / rate) : -1;
        }
    }

    /** Stops the live display (the summary is printed by the caller). */
    @Override
    public void close() {
        if (printer != null) {
            printer.interrupt();
            try {
                printer.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (mode == Mode.TERMINAL) {
                err.print("\r\033[K");
                err.flush();
            }
        }
    }
}
