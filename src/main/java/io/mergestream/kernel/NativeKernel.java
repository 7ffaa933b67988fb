package io.mergestream.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link MergeKernel} over the C kernels of {@code native/mergestream_kernels.c} (libmergestream_native.so),
 * called through the FFM linker: the speed yardstick the Java kernels are measured against, bit-identical to
 * them. Output and computed (non-mapped) inputs are passed to C as they are; the per-call parameters go
 * through a small per-thread native buffer.
 *
 * <p>C never reads a mapped input page: each mapped input's chunk window is first staged (copied with
 * {@link MemorySegment#copy}) into a per-thread off-heap buffer, and the downcall reads the copies. A file
 * truncated under the merge makes its lost pages fault (SIGBUS); inside a downcall HotSpot cannot recover from
 * that and the JVM dies with an hs_err file, whereas a fault in the copy is an {@link InternalError} that
 * format.MappedInputFault turns into one line naming the file. The copy's cost is measured in bench/README.md. The magnitude-selection counting passes run in Java
 * ({@link AbsDeltaCounts}), as in the other kernels.
 *
 * <p>The library is {@code -Dmergestream.native.lib=PATH} if set, else {@code native/libmergestream_native.so}
 * in the folder holding mergestream's jar (or its {@code classes} folder), i.e. {@code target/native/}, else
 * {@code target/native/libmergestream_native.so} under the working directory. {@code native/build.sh} builds it
 * (the Maven build runs it when gcc is installed). Without it {@link #isAvailable()} is false and
 * {@link #instance()} throws, saying why.
 *
 * <p>Tensors must be in native memory (mapped files, arenas): heap segments go through {@link ScalarKernel}.
 * A segment's arena must stay open for the duration of a call (checked at the call's start).
 *
 * <p>{@link #streamCopy} and {@link #streamTriad} measure the memory system's own bandwidth (STREAM).
 */
public final class NativeKernel implements MergeKernel {

    /** The system property naming the library file. */
    public static final String LIBRARY_PROPERTY = "mergestream.native.lib";
    public static final String LIBRARY_FILE = "libmergestream_native.so";

    /** Offsets of ms_task_op and ms_model (mergestream_kernels.h). */
    private static final long OP_SIZE = 24, MODEL_SIZE = 56;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    private static final ThreadLocal<MemorySegment> PARAMS = new ThreadLocal<>();
    /** Per-thread copies of mapped input windows (see the class comment), grown as needed. */
    private static final ThreadLocal<MemorySegment> STAGING = new ThreadLocal<>();

    private static final NativeKernel INSTANCE = new NativeKernel();

    private NativeKernel() {}

    /** Whether the library was found and loaded. */
    public static boolean isAvailable() {
        return Lib.PROBLEM == null;
    }

    /** Why the library is not available (null when it is). */
    public static String unavailableReason() {
        return Lib.PROBLEM;
    }

    /**
     * Whether this class's module may call native code ({@code --enable-native-access}, or the jar manifest's
     * {@code Enable-Native-Access}). Without it the library is not even looked up: any linker call would make the
     * JVM print its "restricted method" warning lines into the embedding program's stderr.
     */
    public static boolean nativeAccessEnabled() {
        return NativeKernel.class.getModule().isNativeAccessEnabled();
    }

    /** The loaded library file, or null. */
    public static Path libraryPath() {
        return Lib.PATH;
    }

    /** The native kernel; throws IllegalStateException, saying why, when the library is not available. */
    public static NativeKernel instance() {
        if (!isAvailable()) throw new IllegalStateException(Lib.PROBLEM);
        return INSTANCE;
    }

    @Override
    public String name() {
        return "native";
    }

    // The block passes the C library has no counterpart of (the L1 rule's sums, the computed sparsifiers of
    // breadcrumbs and DELLA, SCE's and RAM's steps, plain decode/encode) run on the fastest Java kernel rather
    // than on the interface's scalar defaults: the same bits, and --kernel native then measures the C kernels
    // against the Java ones instead of against the scalar reference's passes around them.

    @Override
    public void taskArithmetic(ResolvedTaskArithmetic p, ComputedSparsifier[] sparsifiers, TensorView base,
                               TensorView[] models, TensorView out, long start, int count) {
        Kernels.best().taskArithmetic(p, sparsifiers, base, models, out, start, count);
    }

    @Override
    public void deltas(TensorView base, TensorView model, long start, int count, float[] d) {
        Kernels.best().deltas(base, model, start, count, d);
    }

    @Override
    public void encode(float[] values, TensorView out, long start, int count) {
        Kernels.best().encode(values, out, start, count);
    }

    @Override
    public void varianceBits(float[][] d, int count, int[] bits) {
        Kernels.best().varianceBits(d, count, bits);
    }

    @Override
    public void sceDrop(float[][] d, int[] bits, int at, long start, int count, int thresholdBits, long tieCutoff) {
        Kernels.best().sceDrop(d, bits, at, start, count, thresholdBits, tieCutoff);
    }

    @Override
    public void sce(float[][] v, float[] w, float[] b, int count) {
        Kernels.best().sce(v, w, b, count);
    }

    @Override
    public void ram(float[][] d, float epsilon, float[] lambda, float[] b, int count) {
        Kernels.best().ram(d, epsilon, lambda, b, count);
    }

    @Override
    public void absSums(float[] d, float[] kept, int count, double[] stripes) {
        Kernels.best().absSums(d, kept, count, stripes);
    }

    @Override
    public void keptAbsSums(Sparsifier s, long start, float[] d, int count, double[] stripes) {
        Kernels.best().keptAbsSums(s, start, d, count, stripes);
    }

    @Override
    public void taskArithmetic(TaskArithmeticOp op, TensorView base, TensorView[] models, TensorView out,
                               long start, int count) {
        ResolvedTaskArithmetic p = new ResolvedTaskArithmetic(op);
        Views.checkTaskArithmetic(p, base, models, out, start, count);
        if (!usable(base) || !usable(models) || !writable(out)) {
            ScalarKernel.taskArithmeticRange(p, base, models, out, start, start + count);
            return;
        }
        taskArithmeticAt(p, base, models, out, start, start, count);
    }

    /**
     * The C call on elements {@code [offset, offset + count)} of the views, whose flat tensor index (for the
     * DARE hash and the magnitude tie cutoff) is {@code index + (element - offset)}. The public method passes
     * offset = index = start; tests pass index past what they can allocate (e.g. across 2^32).
     */
    static void taskArithmeticAt(ResolvedTaskArithmetic p, TensorView base, TensorView[] models, TensorView out,
                                 long offset, long index, int count) {
        TensorView[] staged = staged(offset, count, base, models);
        base = staged[0];
        models = java.util.Arrays.copyOfRange(staged, 1, staged.length);
        MemorySegment params = params(p.models);
        params.set(INT, 0, p.models);
        params.set(INT, 4, p.consensus.ordinal());
        params.set(INT, 8, p.normalize ? 1 : 0);
        params.set(FLOAT, 12, p.lambda);
        params.set(FLOAT, 16, p.constantDivisor);
        params.set(INT, 20, 0);
        for (int j = 0; j < p.models; j++) {
            long m = OP_SIZE + j * MODEL_SIZE;
            params.set(LONG, m, rawAddress(models[j], offset));
            params.set(INT, m + 8, dtype(models[j]));
            params.set(INT, m + 12, p.kind[j]);
            params.set(FLOAT, m + 16, p.weights[j]);
            params.set(FLOAT, m + 20, p.density[j]);
            params.set(INT, m + 24, p.rescale[j] ? 1 : 0);
            params.set(INT, m + 28, p.randomThreshold[j]);
            params.set(INT, m + 32, p.k0[j]);
            params.set(INT, m + 36, p.k1[j]);
            params.set(INT, m + 40, p.magnitudeBits[j]);
            params.set(INT, m + 44, 0);
            params.set(LONG, m + 48, p.tieCutoff[j]);
        }
        int rc;
        try {
            rc = (int) Lib.TASK_ARITHMETIC.invokeExact(params, params.asSlice(OP_SIZE),
                    address(base, offset), dtype(base), address(out, offset), dtype(out), index, (long) count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(rc, "ms_task_arithmetic");
    }

    @Override
    public void linear(LinearOp op, TensorView[] models, TensorView out, long start, int count) {
        float[] w = op.weights();
        Views.checkLinear(op, models, out, start, count);
        float divisor = ScalarKernel.linearDivisor(op);
        if (!usable(models) || !writable(out)) {
            ScalarKernel.linearRange(w, divisor, models, out, start, start + count);
            return;
        }
        models = staged(start, count, null, models);
        MemorySegment params = params(w.length);
        for (int j = 0; j < w.length; j++) {
            long m = j * MODEL_SIZE;
            params.set(LONG, m, rawAddress(models[j], start));
            params.set(INT, m + 8, dtype(models[j]));
            params.set(FLOAT, m + 16, w[j]);
        }
        int rc;
        try {
            rc = (int) Lib.LINEAR.invokeExact(params, w.length, op.normalize() ? 1 : 0,
                    op.normalize() ? divisor : 1f, address(out, start), dtype(out), (long) count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(rc, "ms_linear");
    }

    @Override
    public void convert(TensorView in, TensorView out, long start, int count) {
        Views.checkConvert(in, out, start, count);
        if (!usable(in) || !writable(out)) {
            ScalarKernel.convertRange(in, out, start, start + count);
            return;
        }
        in = staged(start, count, in)[0];
        int rc;
        try {
            rc = (int) Lib.CONVERT.invokeExact(address(in, start), dtype(in), address(out, start), dtype(out),
                    (long) count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        check(rc, "ms_convert");
    }

    /** The C library's u(i) of the DARE mask (docs/dare-mask.md), for tests. */
    public static int dareU(long i, int k0, int k1) {
        instance();
        try {
            return (int) Lib.DARE_U.invokeExact(i, k0, k1);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * STREAM copy ({@code a[i] = b[i]} over float arrays of {@code bytes} bytes each, allocated and first
     * touched by the C side) on {@code threads} threads, best of 5 passes, in bytes per second: counts
     * {@code 2 * bytes} per pass (read and write; write-allocate traffic is not counted, as in STREAM). Use
     * arrays well above the last-level cache (e.g. 256 MB) for the memory system's own limit.
     */
    public static double streamCopy(long bytes, int threads) {
        return stream(Lib.STREAM_COPY, bytes, threads);
    }

    /** STREAM triad ({@code a[i] = b[i] + s * c[i]}), counting {@code 3 * bytes} per pass; as {@link #streamCopy}. */
    public static double streamTriad(long bytes, int threads) {
        return stream(Lib.STREAM_TRIAD, bytes, threads);
    }

    private static double stream(MethodHandle handle, long bytes, int threads) {
        instance();
        if (bytes < 64 || threads < 1) throw new IllegalArgumentException("bytes >= 64 and threads >= 1 needed");
        double result;
        try {
            result = (double) handle.invokeExact(bytes, threads, 5);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (result < 0) throw new IllegalStateException("STREAM failed (allocation or thread start), code " + result);
        return result;
    }

    /** Prints the STREAM figures: {@code java ... NativeKernel [MB per array, default 256] [max threads]}. */
    public static void main(String[] args) {
        long mb = args.length > 0 ? Long.parseLong(args[0]) : 256;
        int maxThreads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        if (!isAvailable()) {
            System.err.println(unavailableReason());
            System.exit(1);
        }
        for (int t = 1; t <= maxThreads; t++) {
            System.out.printf(java.util.Locale.ROOT, "STREAM %d MB arrays, %d thread(s): copy %.2f GB/s, triad %.2f GB/s%n",
                    mb, t, streamCopy(mb << 20, t) / 1e9, streamTriad(mb << 20, t) / 1e9);
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    /** The per-thread parameter buffer, large enough for the header and n models. */
    private static MemorySegment params(int n) {
        long size = OP_SIZE + (long) n * MODEL_SIZE;
        MemorySegment s = PARAMS.get();
        if (s == null || s.byteSize() < size) {
            s = Arena.ofAuto().allocate(Math.max(size, OP_SIZE + 8 * MODEL_SIZE), 8);
            PARAMS.set(s);
        }
        return s;
    }

    /**
     * The views' windows {@code [start, start + count)} as C may read them: a mapped view's window copied into
     * this thread's staging buffer (a view of the copy with origin {@code start}), any other view as it is.
     * {@code first} (the base, or null) comes first in the result, then {@code rest}. The copies are valid until
     * this thread's next call.
     */
    private static TensorView[] staged(long start, int count, TensorView first, TensorView... rest) {
        TensorView[] all = new TensorView[rest.length + (first != null ? 1 : 0)];
        if (first != null) all[0] = first;
        System.arraycopy(rest, 0, all, first != null ? 1 : 0, rest.length);
        long bytes = 0;
        for (TensorView v : all) {
            if (v.data().isMapped()) bytes += align((long) count * v.dtype().byteSize());
        }
        if (bytes == 0) return all;
        MemorySegment buffer = STAGING.get();
        if (buffer == null || buffer.byteSize() < bytes) {
            buffer = Arena.ofAuto().allocate(bytes, 64);
            STAGING.set(buffer);
        }
        long at = 0;
        for (int i = 0; i < all.length; i++) {
            TensorView v = all[i];
            if (!v.data().isMapped()) continue;
            long n = (long) count * v.dtype().byteSize();
            // a lost page of a truncated file faults here, in Java, as an InternalError: never inside the C code
            MemorySegment copy = buffer.asSlice(at, n);
            MemorySegment.copy(v.data(), v.offsetOf(start), copy, 0, n);
            all[i] = new TensorView(copy, v.dtype(), start);
            at += align(n);
        }
        return all;
    }

    /** Staged windows start on 64-byte boundaries, so that C's vector loads are cache-line aligned. */
    private static long align(long bytes) {
        return (bytes + 63) & -64L;
    }

    private static int dtype(TensorView v) {
        return switch (v.dtype()) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 2;
            default -> throw new IllegalArgumentException("dtype " + v.dtype() + " is not merged");
        };
    }

    /** The address of element {@code start} (the view was checked alive and accessible by {@link #usable}). */
    private static long rawAddress(TensorView v, long start) {
        return v.data().address() + v.offsetOf(start);
    }

    private static MemorySegment address(TensorView v, long start) {
        return MemorySegment.ofAddress(rawAddress(v, start));
    }

    private static boolean usable(TensorView... views) {
        for (TensorView v : views) {
            MemorySegment data = v.data();
            if (!data.isNative()) return false;
            if (!data.scope().isAlive()) throw new IllegalStateException("Already closed");
            if (!data.isAccessibleBy(Thread.currentThread())) {
                throw new WrongThreadException("Attempted access outside owning thread");
            }
        }
        return true;
    }

    private static boolean writable(TensorView out) {
        if (out.data().isReadOnly()) throw new IllegalArgumentException("the output segment is read-only");
        return usable(out);
    }

    private static void check(int rc, String function) {
        if (rc != 0) throw new IllegalArgumentException(function + " rejected its arguments (" + rc + ")");
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** The library and its downcall handles, resolved on first use. */
    @SuppressWarnings("restricted") // loading a library and linking downcalls is the point of this class
    private static final class Lib {
        static final String PROBLEM;
        static final Path PATH;
        static final MethodHandle TASK_ARITHMETIC, LINEAR, CONVERT, DARE_U, STREAM_COPY, STREAM_TRIAD;

        static {
            String problem = null;
            Path path = null;
            MethodHandle task = null, linear = null, convert = null, dareU = null, copy = null, triad = null;
            List<Path> tried = candidates();
            for (Path p : tried) {
                if (Files.isRegularFile(p)) {
                    path = p;
                    break;
                }
            }
            Module module = NativeKernel.class.getModule();
            if (!module.isNativeAccessEnabled()) {
                String who = module.isNamed() ? module.getName() : "ALL-UNNAMED";
                problem = "native kernel: native access is not enabled for " + (module.isNamed() ? "module " + who
                        : "the class path") + " (start java with --enable-native-access=" + who + ")";
                path = null;
            } else if (path == null) {
                problem = "native kernel not built: run native/build.sh (needs gcc); looked for " + tried;
            } else if (ValueLayout.ADDRESS.byteSize() != 8) {
                problem = "native kernel: needs a 64-bit JVM";
            } else {
                try {
                    Linker linker = Linker.nativeLinker();
                    SymbolLookup lib = SymbolLookup.libraryLookup(path, Arena.global());
                    ValueLayout.OfInt i32 = ValueLayout.JAVA_INT;
                    ValueLayout.OfLong i64 = ValueLayout.JAVA_LONG;
                    ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT;
                    var ptr = ValueLayout.ADDRESS;
                    MethodHandle abi = linker.downcallHandle(lib.findOrThrow("ms_abi_version"),
                            FunctionDescriptor.of(i32));
                    int version = (int) abi.invokeExact();
                    if (version != 1) {
                        throw new IllegalStateException("ABI version " + version + ", expected 1: rebuild it");
                    }
                    task = linker.downcallHandle(lib.findOrThrow("ms_task_arithmetic"),
                            FunctionDescriptor.of(i32, ptr, ptr, ptr, i32, ptr, i32, i64, i64));
                    linear = linker.downcallHandle(lib.findOrThrow("ms_linear"),
                            FunctionDescriptor.of(i32, ptr, i32, i32, f32, ptr, i32, i64));
                    convert = linker.downcallHandle(lib.findOrThrow("ms_convert"),
                            FunctionDescriptor.of(i32, ptr, i32, ptr, i32, i64));
                    dareU = linker.downcallHandle(lib.findOrThrow("ms_dare_u"),
                            FunctionDescriptor.of(i32, i64, i32, i32));
                    copy = linker.downcallHandle(lib.findOrThrow("ms_stream_copy"),
                            FunctionDescriptor.of(ValueLayout.JAVA_DOUBLE, i64, i32, i32));
                    triad = linker.downcallHandle(lib.findOrThrow("ms_stream_triad"),
                            FunctionDescriptor.of(ValueLayout.JAVA_DOUBLE, i64, i32, i32));
                } catch (Throwable t) {
                    problem = "native kernel: cannot load " + path + ": " + t;
                    path = null;
                }
            }
            PROBLEM = problem;
            PATH = path;
            TASK_ARITHMETIC = task;
            LINEAR = linear;
            CONVERT = convert;
            DARE_U = dareU;
            STREAM_COPY = copy;
            STREAM_TRIAD = triad;
        }

        /** The property, then native/ beside the jar (or classes folder), then target/native in the working dir. */
        private static List<Path> candidates() {
            List<Path> paths = new ArrayList<>();
            String property = System.getProperty(LIBRARY_PROPERTY);
            if (property != null && !property.isBlank()) {
                paths.add(Path.of(property).toAbsolutePath());
                return paths; // an explicit choice: no guessing past it
            }
            try {
                var source = NativeKernel.class.getProtectionDomain().getCodeSource();
                if (source != null && source.getLocation() != null) {
                    Path location = Path.of(source.getLocation().toURI());
                    Path parent = location.getParent();
                    if (parent != null) paths.add(parent.resolve("native").resolve(LIBRARY_FILE));
                }
            } catch (URISyntaxException | RuntimeException e) {
                // no code source path (e.g. a custom class loader): fall back to the working directory
            }
            Path cwd = Path.of("target", "native", LIBRARY_FILE).toAbsolutePath();
            if (!paths.contains(cwd)) paths.add(cwd);
            return paths;
        }
    }
}
