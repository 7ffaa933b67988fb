package io.mergestream.format.safetensors;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.jsontype.TypeSerializer;
import io.mergestream.format.CheckpointFiles;
import io.mergestream.format.Json;
import io.mergestream.format.MappedPages;
import io.mergestream.format.OutputLayout;
import io.mergestream.tensor.TensorInfo;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes the shards of an {@link OutputLayout}. Every header is written first (the layout fixes all names,
 * shapes and offsets); then finished pieces of tensors are written with positional writes
 * ({@link #write}, {@code pwrite}), from any thread, in any order: no shard is ever assembled in memory.
 * {@link #finish()} syncs the files and writes {@code model.safetensors.index.json} when there is more than
 * one shard.
 *
 * <p>Positional writes, not a read-write mapping, on purpose: a full disk then arrives as an
 * {@link IOException} from the write (ENOSPC), reported as one line ({@code no space left on device: FILE}),
 * whereas a store into a mapping whose page the filesystem cannot allocate raises SIGBUS in the storing
 * code, which crashed the JVM inside C2-compiled kernels (issue 9; a mapping can fault after
 * {@code fallocate} too, on copy-on-write filesystems). They are also faster: measured in bench/README.md.
 *
 * <p>Writes land in the page cache; left there, all of the output would go to disk in the final fsync, after the
 * last tensor, with every core idle (0.5-1.1 s for 1 GB on the benchmark machine). So every
 * {@value #WRITEBACK_STEP_BYTES} bytes written to a shard, a background thread starts that shard's writeback
 * ({@link MappedPages#startWriteback}, which does not wait for the disk) while the workers compute on, and the
 * final fsync waits only for the tail. The fsync is still what makes the files complete: a failed write-out
 * surfaces there.
 */
public final class ShardedWriter implements AutoCloseable {

    private static final Map<String, String> METADATA = Map.of("format", "pt");

    private final Path directory;
    private final OutputLayout layout;
    private final List<FileChannel> channels = new ArrayList<>();
    private final List<Path> files = new ArrayList<>();
    private final List<Long> dataStarts = new ArrayList<>();
    private final List<java.util.concurrent.atomic.AtomicLong> written = new ArrayList<>();
    /** Starts the writeback of shards as they grow; made on the first step, stopped before the fsync. */
    private java.util.concurrent.ExecutorService writeback;
    private boolean closed;

    /** Bytes written to a shard between two starts of its writeback: a few calls per GB, each writing much. */
    static final long WRITEBACK_STEP_BYTES = 64L << 20;

    private ShardedWriter(Path directory, OutputLayout layout) {
        this.directory = directory;
        this.layout = layout;
    }

    public static ShardedWriter create(Path directory, OutputLayout layout) {
        ShardedWriter w = new ShardedWriter(directory, layout);
        for (OutputLayout.Shard shard : layout.shards()) {
            Path file = directory.resolve(shard.fileName());
            try {
                w.openShard(shard, file);
            } catch (IOException e) {
                w.close();
                throw writeFailure(file, e);
            }
        }
        return w;
    }

    private void openShard(OutputLayout.Shard shard, Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        channels.add(ch);
        files.add(file);
        // The header streams to the file after its 8-byte length, which is written last, once known.
        ch.position(8);
        BufferedOutputStream headerOut = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
        long headerLength = HeaderWriter.write(shard.tensors(), METADATA, headerOut);
        headerOut.flush(); // not close(): that would close the channel
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerLength);
        for (long at = 0; prefix.hasRemaining(); ) at += ch.write(prefix, at);
        dataStarts.add(8L + headerLength);
        written.add(new java.util.concurrent.atomic.AtomicLong());
    }

    /**
     * Writes the start of {@code shard}'s file to a stream that cannot seek back (the library's single-stream
     * output): the header's 8-byte length, then the header, byte for byte what {@link #create} writes. The header
     * is generated twice (once to count it) rather than held whole: it is megabytes for 100,000 tensors.
     */
    public static void writeHeader(OutputLayout.Shard shard, java.io.OutputStream out) throws IOException {
        long headerLength = HeaderWriter.write(shard.tensors(), METADATA, java.io.OutputStream.nullOutputStream());
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerLength).array());
        HeaderWriter.write(shard.tensors(), METADATA, out);
    }

    public OutputLayout layout() {
        return layout;
    }

    public TensorInfo info(String tensor) {
        return layout.info(tensor);
    }

    /**
     * Writes {@code bytes} at byte {@code offset} of output tensor {@code tensor}; safe from several threads at
     * once (each write is one positional write, no shared file position). Throws {@link UncheckedIOException}
     * with one line naming the shard: {@code no space left on device: FILE} on a full disk.
     */
    public void write(String tensor, long offset, MemorySegment bytes) {
        int place = layout.place(tensor);
        long n = bytes.byteSize();
        long size = layout.byteSize(place);
        if (offset < 0 || offset + n > size) {
            throw new IllegalArgumentException(tensor + ": bytes [" + offset + ", " + (offset + n)
                    + ") are outside the tensor's " + size);
        }
        if (n == 0) return;
        int shard = layout.shardOf(place);
        FileChannel ch = channels.get(shard);
        long position = dataStarts.get(shard) + layout.begin(place) + offset;
        ByteBuffer src = bytes.asByteBuffer();
        try {
            while (src.hasRemaining()) position += ch.write(src, position);
        } catch (IOException e) {
            throw writeFailure(files.get(shard), e);
        }
        long after = written.get(shard).addAndGet(n);
        if (after / WRITEBACK_STEP_BYTES != (after - n) / WRITEBACK_STEP_BYTES) startWriteback(shard);
    }

    /** Has the background thread start shard {@code s}'s writeback (queued calls for one shard cost little). */
    private synchronized void startWriteback(int s) {
        if (closed) return;
        if (writeback == null) {
            writeback = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "mergestream-writeback");
                t.setDaemon(true);
                return t;
            });
        }
        Path file = files.get(s);
        writeback.execute(() -> MappedPages.startWriteback(file));
    }

    /**
     * Waits for the writeback thread to finish what it was given and ends it: before the fsync (which then waits
     * for no call in flight) and before the channels close and a failed output is deleted.
     */
    private void stopWriteback() {
        java.util.concurrent.ExecutorService w;
        synchronized (this) {
            w = writeback;
            writeback = null;
        }
        if (w == null) return;
        w.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (w.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES)) break;
            } catch (InterruptedException e) {
                interrupted = true; // a call in flight returns without waiting for the disk: wait for it still
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /** Syncs every shard to disk and writes the index; the files are complete when this returns. */
    public void finish() {
        stopWriteback();
        for (int s = 0; s < channels.size(); s++) {
            long expected = dataStarts.get(s) + layout.shards().get(s).dataBytes();
            try {
                long size = channels.get(s).size();
                if (size != expected) {
                    throw new IllegalStateException(files.get(s) + ": " + size + " bytes written of " + expected
                            + " (a tensor was not written whole)");
                }
                channels.get(s).force(true);
            } catch (IOException e) {
                throw writeFailure(files.get(s), e);
            }
        }
        if (layout.isSharded()) writeIndex();
        close();
    }

    /**
     * One line for a failed write: a full disk (ENOSPC, or EDQUOT) names only the file, as the remedy is the
     * same; anything else keeps the system's message.
     */
    private static UncheckedIOException writeFailure(Path file, IOException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
            return new UncheckedIOException("no space left on device: " + file, e);
        }
        return new UncheckedIOException("cannot write " + file + ": " + m, e);
    }

    /**
     * The index, streamed: a tree (or a String) of 300,000 names would not fit the launcher's heap next to the
     * plan. The same bytes as {@link Json#writePretty} of the tree: names sorted, as a TreeMap sorts them.
     */
    private void writeIndex() {
        String[] sorted = layout.names();
        java.util.Arrays.sort(sorted);
        Json.writePretty(directory.resolve(CheckpointFiles.INDEX_FILE), new com.fasterxml.jackson.databind.JsonSerializable.Base() {
            @Override
            public void serialize(JsonGenerator g, SerializerProvider provider) throws IOException {
                g.writeStartObject();
                g.writeObjectFieldStart("metadata");
                g.writeNumberField("total_size", layout.totalBytes());
                g.writeEndObject();
                g.writeObjectFieldStart("weight_map");
                for (String name : sorted) g.writeStringField(name, layout.shards().get(layout.shardIndexOf(name)).fileName());
                g.writeEndObject();
                g.writeEndObject();
            }

            @Override
            public void serializeWithType(JsonGenerator g, SerializerProvider provider, TypeSerializer type) throws IOException {
                serialize(g, provider);
            }
        });
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        stopWriteback();
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing after a failure: the temporary output is deleted anyway
            }
        }
    }
}
