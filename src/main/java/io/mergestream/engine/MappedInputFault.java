package io.mergestream.engine;

import io.mergestream.format.InputModel;
import io.mergestream.format.TensorFile;
import io.mergestream.format.checkpoint.Checkpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

/**
 * A read of a mapped input page that the kernel cannot supply: the file was truncated (or replaced) under us,
 * or the device failed. Linux raises SIGBUS; HotSpot turns it into an asynchronous {@link InternalError}
 * ("a fault occurred in an unsafe memory access operation") in code it knows accesses memory unsafely, and
 * crashes elsewhere (see the vector kernel's {@code VectorCodecs.faultable}). This turns that error into one
 * line naming the file that is now shorter than its mapping (exit 1), so that the run's normal failure path
 * removes the staging output.
 */
public final class MappedInputFault {

    private static final String HOTSPOT_MESSAGE = "a fault occurred in an unsafe memory access operation";

    private MappedInputFault() {}

    /**
     * Runs {@code body}; a fault on a mapped page of {@code inputs} is rethrown as an
     * {@link UncheckedIOException} naming the truncated shard (or, if none is shorter than its mapping, every
     * input, as the device or a replaced file is to blame).
     */
    public static <T> T guard(Collection<? extends InputModel> inputs, Supplier<T> body) {
        try {
            return body.get();
        } catch (InternalError e) {
            if (!isMappedPageFault(e)) throw e;
            throw describe(inputs, e);
        }
    }

    /** The mapped files behind the inputs: a checkpoint itself; a LoRA model's base and adapter file. */
    private static List<Checkpoint> checkpoints(Collection<? extends InputModel> inputs) {
        List<Checkpoint> all = new ArrayList<>();
        for (InputModel m : inputs) {
            if (m instanceof Checkpoint c) {
                all.add(c);
            } else if (m instanceof io.mergestream.format.peft.LoraModel lora) {
                all.addAll(checkpoints(List.of(lora.base())));
                all.add(lora.weights());
            }
        }
        return all;
    }

    /** Whether {@code e} is HotSpot's report of a fault on a mapped page. */
    public static boolean isMappedPageFault(Throwable e) {
        return e instanceof InternalError && e.getMessage() != null && e.getMessage().contains(HOTSPOT_MESSAGE);
    }

    /** The one-line error for a fault while reading {@code inputs}. */
    public static UncheckedIOException describe(Collection<? extends InputModel> inputs, Throwable cause) {
        List<String> all = new ArrayList<>();
        for (Checkpoint c : checkpoints(inputs)) {
            for (TensorFile shard : c.shards()) {
                Path p = shard.path();
                all.add(p.toString());
                long now;
                try {
                    now = Files.size(p);
                } catch (IOException gone) {
                    return new UncheckedIOException(p + ": removed while being read", new IOException(cause));
                }
                if (now < shard.fileSize()) {
                    return new UncheckedIOException(p + ": truncated while being read (" + now + " bytes, "
                            + shard.fileSize() + " when opened)", new IOException(cause));
                }
            }
        }
        return new UncheckedIOException("cannot read a mapped input (a device error, or a file replaced while"
                + " being read): " + String.join(", ", all), new IOException(cause));
    }
}
