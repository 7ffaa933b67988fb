package io.mergestream.api;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.ObjectName;

/**
 * The child JVM of {@link RepeatedMergeMemoryTest}: merges the bundled tiny Llama family into memory {@code warm-up}
 * times, takes a native-memory baseline and the heap after GC, merges {@code runs} more times, and prints the
 * change of both on one line: {@code heap-delta-bytes N native-delta-bytes M}. Native memory is the JVM's Native
 * Memory Tracking (the JVM must run with {@code -XX:NativeMemoryTracking=summary}), read through the
 * DiagnosticCommand MBean, the same command {@code jcmd PID VM.native_memory summary.diff} runs; its committed
 * total without the categories of {@link #JVM_OWN}.
 *
 * <p>{@code leaky} plugs in a sink that copies every tensor into an arena it never closes, which must be seen.
 */
public final class RepeatedMergeProbe {

    /**
     * Categories that are the JVM's own business, left out of the native figure: the heap (measured apart), the JIT
     * (compiled code, the compiler's arenas and the metadata its profiling keeps: they grow while methods are still
     * being compiled, by megabytes, whatever the program) and the tracker's own bookkeeping. What remains is where a
     * library's leak would show: off-heap arenas and direct buffers ({@code Other}), threads' stacks
     * ({@code Thread}), classes, symbols, internal and GC structures.
     */
    static final String[] JVM_OWN = {"Java Heap", "Code", "Compiler", "Arena Chunk", "Metaspace", "Native Memory Tracking"};

    private RepeatedMergeProbe() {}

    /** The sink a careless caller might write: an arena per run, never closed. */
    static final class LeakySink implements TensorSink {
        private final Arena arena = Arena.ofShared();

        @Override
        public void accept(OutputTensor tensor) {
            MemorySegment copy = arena.allocate(Math.max(1, tensor.data().byteSize()));
            MemorySegment.copy(tensor.data(), 0, copy, 0, tensor.data().byteSize());
        }
    }

    public static void main(String[] args) throws Exception {
        boolean leaky = args[0].equals("leaky");
        int warmUp = Integer.parseInt(args[1]);
        int runs = Integer.parseInt(args[2]);
        MergeRecipe recipe = MergeRecipe.fromFile(Path.of("testdata/recipes/dare_ties.yml"));
        MergeOptions options = MergeOptions.builder().threads(2).build();
        for (int i = 0; i < warmUp; i++) once(recipe, options, leaky);
        long heap0 = heapAfterGc();
        nmt("baseline");
        for (int i = 0; i < runs; i++) once(recipe, options, leaky);
        long heap1 = heapAfterGc();
        String diff = nmt("summary.diff");
        long nativeDelta = committedDelta(diff, "Total");
        for (String jvmOwn : JVM_OWN) nativeDelta -= committedDelta(diff, jvmOwn);
        System.out.printf(Locale.ROOT, "heap-delta-bytes %d native-delta-bytes %d%n", heap1 - heap0, nativeDelta);
        System.out.println(diff);
    }

    private static void once(MergeRecipe recipe, MergeOptions options, boolean leaky) {
        if (leaky) {
            Merge.of(recipe, options).run(new LeakySink());
            return;
        }
        try (InMemoryModel model = new InMemoryModel()) {
            Merge.of(recipe, options).run(model);
            if (model.byteSize() == 0) throw new IllegalStateException("empty merge");
        }
    }

    private static long heapAfterGc() throws InterruptedException {
        long used = Long.MAX_VALUE;
        // the lowest of a few full collections: a concurrent phase may keep a little garbage past one
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    private static String nmt(String command) throws Exception {
        ObjectName dcmd = new ObjectName("com.sun.management:type=DiagnosticCommand");
        Object out = ManagementFactory.getPlatformMBeanServer().invoke(dcmd, "vmNativeMemory",
                new Object[] {new String[] {command, "scale=KB"}}, new String[] {String[].class.getName()});
        return (String) out;
    }

    /** The committed change of one category of a summary.diff, in bytes (0 when it did not change or is absent). */
    static long committedDelta(String diff, String category) {
        Pattern p = Pattern.compile("(?m)^[-\\s]*" + Pattern.quote(category)
                + "\\s*(?:\\(|:).*?committed=\\d+KB\\s*([+-]\\d+)KB");
        Matcher m = p.matcher(diff);
        return m.find() ? Long.parseLong(m.group(1)) * 1024 : 0;
    }
}
