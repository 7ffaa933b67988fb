package io.mergestream.format.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.mergestream.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Serialises a safetensors header as the reference writer does: compact JSON, {@code __metadata__} first,
 * tensors in data order, padded with spaces so that the data section starts 8-aligned.
 */
public final class HeaderWriter {

    private static final JsonFactory JSON = new JsonFactory();

    private HeaderWriter() {}

    /** The header bytes (without the 8-byte length), padded with spaces to a multiple of 8. */
    public static byte[] encode(List<TensorInfo> tensorsInDataOrder, Map<String, String> metadata) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsHeader.METADATA_KEY);
                for (Map.Entry<String, String> e : metadata.entrySet()) g.writeStringField(e.getKey(), e.getValue());
                g.writeEndObject();
            }
            for (TensorInfo t : tensorsInDataOrder) {
                g.writeObjectFieldStart(t.name());
                g.writeStringField("dtype", t.dtype().headerName());
                g.writeFieldName("shape");
                long[] shape = t.shape();
                g.writeArray(shape, 0, shape.length);
                g.writeFieldName("data_offsets");
                g.writeArray(new long[] {t.begin(), t.end()}, 0, 2);
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] json = out.toByteArray();
        int padded = (json.length + 7) & ~7;
        byte[] result = Arrays.copyOf(json, padded);
        Arrays.fill(result, json.length, padded, (byte) ' ');
        return result;
    }
}
