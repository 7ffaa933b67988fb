package io.mergestream.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Cancelling a run, by {@link Merge#cancel()} and by an interrupt of the thread running it: at 1 and 2 threads, on
 * a plan of far more than 200 chunks (tiny Llama in chunks of 256 elements), the listener sees at most {@code threads}
 * chunk completions after the cancel (each worker finishes the chunk it is in, none starts another), the run throws
 * {@link MergeCancelledException}, and no output or staging directory is left.
 */
class CancellationTest {

    private static final int CHUNK = 256;
    /** The completion at which the cancel comes: well inside the run. */
    private static final int CANCEL_AT = 60;

    /** Counts chunk completions, and those after the cancel. */
    private static final class Counting implements MergeListener {
        final AtomicInteger chunks = new AtomicInteger();
        final AtomicInteger atCancel = new AtomicInteger(-1);
        final Runnable cancel;

        Counting(Runnable cancel) {
            this.cancel = cancel;
        }

        @Override
        public void chunkFinished(String tensor, long bytesDone, long bytesTotal) {
            int n = chunks.incrementAndGet();
            if (n == CANCEL_AT) {
                cancel.run();
                // every completion counted from here on came after the cancel
                atCancel.set(chunks.get());
            }
        }

        int after() {
            return chunks.get() - atCancel.get();
        }
    }

    private static MergeRecipe recipe() {
        return MergeRecipe.fromFile(MergeApiTest.RECIPES.resolve("dare_ties.yml"));
    }

    private static long totalChunks(Merge m) {
        return m.plan().tensors().stream().mapToLong(t -> (t.outputBytes() / 2 + CHUNK - 1) / CHUNK).sum();
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void cancelStopsEveryWorkerWithinOneChunkAndRemovesTheStaging(int threads, @TempDir Path tmp) throws IOException {
        Merge[] merge = new Merge[1];
        Counting l = new Counting(() -> merge[0].cancel());
        merge[0] = Merge.of(recipe(), MergeOptions.builder().threads(threads).chunkElements(CHUNK).listener(l).build());
        assertTrue(totalChunks(merge[0]) >= 200, "the plan has at least 200 chunks");
        Path out = tmp.resolve("out");
        MergeCancelledException e = assertThrows(MergeCancelledException.class, () -> merge[0].run(out));
        assertEquals("the merge was cancelled", e.getMessage());
        assertTrue(l.atCancel.get() > 0, "cancelled during the run");
        assertTrue(l.after() <= threads, l.after() + " chunks completed after the cancel at " + threads + " threads");
        assertNothingLeft(tmp);
        assertTrue(merge[0].isCancelled());
        // the handle stays cancelled: a later call does not start
        assertThrows(MergeCancelledException.class, () -> merge[0].run(out));
        assertFalse(Thread.currentThread().isInterrupted());
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void anInterruptOfTheCallerCancelsToo(int threads, @TempDir Path tmp) throws Exception {
        AtomicReference<Thread> runner = new AtomicReference<>();
        Counting l = new Counting(() -> runner.get().interrupt());
        Merge merge = Merge.of(recipe(), MergeOptions.builder().threads(threads).chunkElements(CHUNK).listener(l).build());
        Path out = tmp.resolve("out");
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicReference<Boolean> stillInterrupted = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                merge.run(out);
            } catch (Throwable x) {
                thrown.set(x);
            }
            stillInterrupted.set(Thread.currentThread().isInterrupted());
        });
        runner.set(t);
        t.start();
        t.join();
        assertNotNull(thrown.get(), "the run must not finish");
        assertTrue(thrown.get() instanceof MergeCancelledException, String.valueOf(thrown.get()));
        assertEquals("the merge was interrupted", thrown.get().getMessage());
        assertTrue(stillInterrupted.get(), "the interrupt status is the caller's again");
        assertTrue(l.after() <= threads, l.after() + " chunks completed after the interrupt at " + threads + " threads");
        assertNothingLeft(tmp);
        assertFalse(merge.isCancelled(), "an interrupt cancels that run, not the handle");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void aSinkRunIsCancelledAlike(int threads) {
        int planned = Merge.of(recipe(), MergeOptions.defaults()).plan().tensors().size();
        Merge[] merge = new Merge[1];
        Counting l = new Counting(() -> merge[0].cancel());
        merge[0] = Merge.of(recipe(), MergeOptions.builder().threads(threads).chunkElements(CHUNK).listener(l).build());
        try (InMemoryModel model = new InMemoryModel()) {
            assertThrows(MergeCancelledException.class, () -> merge[0].run(model));
            assertTrue(l.after() <= threads, l.after() + " chunks after the cancel");
            assertTrue(model.names().size() < planned, "the sink got no further tensor");
        }
    }

    /** No output, no staging or set-aside sibling, no lock file: the temporary directory holds what it held. */
    private static void assertNothingLeft(Path tmp) throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            List<String> left = s.map(p -> p.getFileName().toString()).toList();
            assertEquals(List.of(), left, "left behind");
        }
    }
}
