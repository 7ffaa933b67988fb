package io.mergestream.fuzz;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The inputs of {@code testdata/fuzz-regressions/}, one test each: what the fuzz targets (or a review of what
 * they should reach) found. A bug fixed on this branch is a test of the fixed behaviour; a bug in a file another
 * engineer owns is a test that documents today's behaviour, to be flipped when it is fixed.
 */
class FuzzRegressionsTest {

    static final Path DIR = Path.of("testdata/fuzz-regressions");

    /**
     * OPEN BUG (format/torch/RestrictedUnpickler.java, not fixed here): a data.pkl of 5005 bytes, a dict
     * ({@code '}'}) whose key is a tuple nested 5000 deep ({@code ')'} then TUPLE1 {@code 0x85} x 5000, {@code 'N'},
     * SETITEM {@code 's'}, STOP), throws StackOverflowError: setItems (line 353, {@code d.items.putIfAbsent(key,
     * ...)}) hashes the key, and the Tuple record's hashCode (line 54) recurses once per level. Any nesting deeper
     * than the thread's stack does it (2000 levels on a 1 MB stack); the bounds on stack, memo and container
     * elements do not limit depth. Through {@code Checkpoint.open} of a zip holding this data.pkl the same error
     * leaves the reader instead of a FormatException (exit 2). The contract wants a FormatException (a depth
     * bound); when that is in, this test must assert {@code MergestreamException} instead.
     */
    @Test
    void unpicklerDictKeyTupleNested5000DeepOverflowsTheStack() throws Exception {
        byte[] pickle = Files.readAllBytes(DIR.resolve("unpickler-dict-key-tuple-nested-5000-deep.pkl"));
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        // a fixed, small stack: the outcome must not depend on the JVM's default thread stack size
        Thread t = new Thread(null, () -> {
            try {
                TorchBinFuzzTest.load(pickle);
            } catch (Throwable e) {
                thrown.set(e);
            }
        }, "fuzz-regression", 512 * 1024);
        t.start();
        t.join();
        assertNotNull(thrown.get(), "the deep pickle was accepted");
        assertInstanceOf(StackOverflowError.class, thrown.get(), "documented bug changed: " + thrown.get());
    }
}
