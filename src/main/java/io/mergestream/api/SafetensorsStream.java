package io.mergestream.api;

import io.mergestream.format.OutputLayout;
import io.mergestream.format.safetensors.ShardedWriter;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A {@link TensorSink} that writes the merged model as one safetensors file to any {@link WritableByteChannel}
 * (a socket, a pipe, an upload, a file): the header first (the plan fixes every name, shape and offset), then each
 * tensor's bytes as it is finished; nothing is assembled in memory beyond one tensor. The bytes are exactly those
 * of {@code model.safetensors} from a directory run whose shard size holds the whole model. The channel is
 * neither flushed beyond this sink's own buffer nor closed: the caller owns it.
 */
public final class SafetensorsStream implements TensorSink {

    private final WritableByteChannel channel;
    private List<TensorInfo> order;
    private int next;
    private long written;

    /**
     * A sink writing to {@code channel}.
     *
     * @param channel where the file's bytes go, in order
     */
    public SafetensorsStream(WritableByteChannel channel) {
        this.channel = Objects.requireNonNull(channel, "channel");
    }

    /**
     * Writes the header for {@code tensors}.
     *
     * @param tensors the tensors to come, in data order
     */
    @Override
    public void begin(List<OutputTensor> tensors) {
        List<OutputLayout.Entry> entries = new ArrayList<>();
        for (OutputTensor t : tensors) entries.add(new OutputLayout.Entry(t.name(), dtype(t), t.shape()));
        OutputLayout.Shard shard = OutputLayout.plan(entries, Long.MAX_VALUE).shards().getFirst();
        order = shard.tensors();
        next = 0;
        // not closed: closing the stream would close the caller's channel
        OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
        try {
            ShardedWriter.writeHeader(shard, out);
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the safetensors header: " + e.getMessage(), e);
        }
    }

    /**
     * Writes the tensor's bytes.
     *
     * @param tensor the next tensor in the header's order
     * @throws IllegalStateException when tensors come in another order than {@link #begin} listed
     */
    @Override
    public void accept(OutputTensor tensor) {
        if (order == null || next >= order.size() || !order.get(next).name().equals(tensor.name())) {
            throw new IllegalStateException("tensor " + tensor.name() + " arrived out of the header's order");
        }
        TensorInfo info = order.get(next++);
        if (tensor.data().byteSize() != info.byteSize()) {
            throw new IllegalStateException(tensor.name() + ": " + tensor.data().byteSize() + " bytes, the header says "
                    + info.byteSize());
        }
        ByteBuffer src = tensor.data().asByteBuffer();
        try {
            while (src.hasRemaining()) written += channel.write(src);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write tensor " + tensor.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Tensor data bytes written so far (after the header).
     *
     * @return tensor data bytes written so far (after the header)
     */
    public long dataBytesWritten() {
        return written;
    }

    private static DType dtype(OutputTensor t) {
        return DType.fromHeaderName(t.dtype())
                .orElseThrow(() -> new IllegalArgumentException(t.name() + ": unknown dtype " + t.dtype()));
    }
}
