package io.mergestream.method;

import io.mergestream.format.TensorSource;
import io.mergestream.kernel.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one place where an input {@link TensorSource} becomes a kernel view. A mapped source is viewed whole, in
 * place (zero-copy); a computed one fills the calling thread's buffer for the asked range and is viewed as a window
 * with that range's origin, so kernels keep addressing flat element indices (the DARE mask and the magnitude
 * tie cut-off hash and compare them). Nobody else asks a source what kind it is.
 *
 * <p>Buffers: one off-heap segment per (thread, input slot), grown to the largest range asked and reused for the
 * whole run, all in one shared arena closed once at the end (closing a shared arena is a handshake with every
 * thread, too costly per chunk or per tensor). Memory: threads × slots × chunk × 4 bytes, e.g. 2 threads × 4 inputs
 * × 64 Ki elements × 4 B = 2 MB. A window is valid until the same thread asks the same slot for another range.
 */
public final class ChunkBuffers implements AutoCloseable {

    private final Arena arena = Arena.ofShared();
    private final ConcurrentHashMap<Thread, MemorySegment[]> perThread = new ConcurrentHashMap<>();

    /** The elements {@code [start, start + count)} of {@code source} (slot: which input of the current op it is). */
    public TensorView window(TensorSource source, int slot, long start, int count) {
        MemorySegment mapped = source.mapped();
        if (mapped != null) return new TensorView(mapped, source.info().dtype());
        MemorySegment buf = buffer(slot, (long) count * source.info().dtype().byteSize());
        source.fill(start, count, buf);
        return new TensorView(buf.asSlice(0, (long) count * source.info().dtype().byteSize()), source.info().dtype(),
                start);
    }

    private MemorySegment buffer(int slot, long bytes) {
        MemorySegment[] slots = perThread.computeIfAbsent(Thread.currentThread(), t -> new MemorySegment[0]);
        if (slot >= slots.length) {
            slots = java.util.Arrays.copyOf(slots, slot + 1);
            perThread.put(Thread.currentThread(), slots);
        }
        MemorySegment b = slots[slot];
        if (b == null || b.byteSize() < bytes) {
            // grown buffers stay in the arena until the run ends: at most twice the largest size asked
            b = arena.allocate(Math.max(bytes, b == null ? 0 : 2 * b.byteSize()), 64);
            slots[slot] = b;
        }
        return b;
    }

    /** Frees every buffer; no window may be used after. */
    @Override
    public void close() {
        perThread.clear();
        arena.close();
    }
}
