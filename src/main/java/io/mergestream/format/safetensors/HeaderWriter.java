package io.mergestream.format.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamWriteFeature;
import io.mergestream.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * Serialises a safetensors header as the reference writer does: compact JSON, {@code __metadata__} first,
 * tensors in data order, padded with spaces so that the data section starts 8-aligned.
 */
public final class HeaderWriter {

    private static final JsonFactory JSON = JsonFactory.builder()
            // The caller's stream (a file channel's) stays open: the data section follows the header.
            .disable(StreamWriteFeature.AUTO_CLOSE_TARGET)
            .build();

    private HeaderWriter() {}

    /** The header bytes (without the 8-byte length), padded with spaces to a multiple of 8. */
    public static byte[] encode(List<TensorInfo> tensorsInDataOrder, Map<String, String> metadata) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            write(tensorsInDataOrder, metadata, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /**
     * Streams the header (without the 8-byte length), padded with spaces to a multiple of 8, to {@code out},
     * and returns its length. A header of 100,000 tensors is megabytes: written as it is generated, it never
     * sits on the heap whole (and never three times over, as buffering, copying and padding it would).
     */
    public static long write(List<TensorInfo> tensorsInDataOrder, Map<String, String> metadata, OutputStream out)
            throws IOException {
        Counting counted = new Counting(out);
        try (JsonGenerator g = JSON.createGenerator(counted)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> e : metadata.entrySet()) g.writeStringField(e.getKey(), e.getValue());
                g.writeEndObject();
            }
            long[] offsets = new long[2];
            for (TensorInfo t : tensorsInDataOrder) {
                g.writeObjectFieldStart(t.name());
                g.writeStringField("dtype", t.dtype().headerName());
                g.writeFieldName("shape");
                g.writeStartArray();
                for (int i = 0; i < t.rank(); i++) g.writeNumber(t.dim(i));
                g.writeEndArray();
                g.writeFieldName("data_offsets");
                offsets[0] = t.begin();
                offsets[1] = t.end();
                g.writeArray(offsets, 0, 2);
                g.writeEndObject();
            }
            g.writeEndObject();
        }
        while ((counted.count & 7) != 0) counted.write(' ');
        counted.flush();
        return counted.count;
    }

    private static final class Counting extends FilterOutputStream {
        long count;

        Counting(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        @Override
        public void close() throws IOException {
            flush(); // never closes the target
        }
    }
}
