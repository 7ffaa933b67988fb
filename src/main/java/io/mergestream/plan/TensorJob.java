package io.mergestream.plan;

import io.mergestream.method.TensorParams;
import io.mergestream.format.TensorSource;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.util.List;

/**
 * What to do for one output tensor. A copy takes {@code source} (usually the base's tensor) and converts it
 * to the output dtype if needed; a merge combines {@code base} and {@code models} (in fine-tune order) with
 * the plan's method and {@code params}.
 */
public record TensorJob(String name, DType outDtype, long[] shape, Kind kind, TensorSource source,
                        TensorSource base, List<TensorSource> models, TensorParams params) {

    public enum Kind { COPY, MERGE }

    public static TensorJob copy(String name, DType outDtype, TensorSource source) {
        return new TensorJob(name, outDtype, source.info().shape(), Kind.COPY, source, null, List.of(), null);
    }

    public long elements() {
        return TensorInfo.elementCount(shape);
    }

    public long outputBytes() {
        return elements() * outDtype.byteSize();
    }

    /** Bytes this job reads from the inputs. */
    public long inputBytes() {
        if (kind == Kind.COPY) return source.bytesRead();
        long n = base == null ? 0 : base.bytesRead();
        for (TensorSource m : models) n += m.bytesRead();
        return n;
    }
}
