package io.mergestream.fuzz;

import io.mergestream.format.CheckpointFiles;
import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.MergestreamException;
import io.mergestream.format.checkpoint.Checkpoint;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzz targets for PyTorch {@code .bin} files: the whole zip through {@link Checkpoint#open} (end records,
 * central directory, local headers, zip64, CRCs, then the state dict), and the restricted unpickler alone on the
 * bytes of a {@code data.pkl} (its CRC would stop nearly every mutation of a pickle inside a zip).
 *
 * <p>The unpickler's contract: a value, or a {@link MergestreamException}; never a global off the allow-list
 * reached. Checked twice: no global in the value is off the list, and when the load succeeds, no GLOBAL or
 * STACK_GLOBAL reached by a walk of its opcodes up to STOP ({@link #scanGlobals}) names a global off the list.
 */
class TorchBinFuzzTest {

    @TempDir
    static Path dir;

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzTorchZip(byte[] file) {
        FuzzSupport.write(dir.resolve(CheckpointFiles.BIN_FILE), file);
        FuzzSupport.refusedOr(() -> {
            try (Checkpoint c = Checkpoint.open(dir)) {
                check(c.shards().size() == 1, "one file, " + c.shards().size() + " shards");
                FuzzSupport.checkCheckpoint(c);
                if (planted("zip")) {
                    // stands in for a reader that trips over a central directory written on another host
                    for (int cd = indexOf(file, CENTRAL_HEADER, 0); cd >= 0; cd = indexOf(file, CENTRAL_HEADER, cd + 4)) {
                        if (cd + 5 < file.length && (file[cd + 4] | file[cd + 5]) != 0) {
                            throw new FuzzSupport.PlantedBug("central directory entry at " + cd + " 'made by' "
                                    + (file[cd + 4] & 0xFF) + "/" + (file[cd + 5] & 0xFF));
                        }
                    }
                }
            }
        });
    }

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzUnpickler(byte[] pickle) {
        FuzzSupport.refusedOr(() -> {
            Object value = load(pickle);
            checkGlobals(value);
            for (String g : scanGlobals(pickle)) {
                check(allowed().contains(g), "the pickle names the global '" + g + "' and was accepted");
            }
            if (planted("unpickler")) {
                // stands in for a reader that assumes even storage offsets (reads in pairs of elements)
                walk(value, o -> {
                    if (o.getClass().getSimpleName().equals("TensorRef") && (long) component(o, "storageOffset") % 2 == 1) {
                        throw new FuzzSupport.PlantedBug("a tensor view at odd storage offset " + component(o, "storageOffset"));
                    }
                });
            }
        });
    }

    // ---- the unpickler, package-private in io.mergestream.format.torch, reached by reflection ----

    private static final Method LOAD;
    private static final Set<String> ALLOWED;

    static {
        try {
            Class<?> c = Class.forName("io.mergestream.format.torch.RestrictedUnpickler");
            LOAD = c.getDeclaredMethod("load", Path.class, String.class, byte[].class);
            LOAD.setAccessible(true);
            Field f = c.getDeclaredField("ALLOWED");
            f.setAccessible(true);
            ALLOWED = Set.copyOf(((Map<?, ?>) f.get(null)).keySet().stream().map(String::valueOf).toList());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The documented allow-list (README, Input formats): the unpickler's own may not be wider. */
    static Set<String> allowed() {
        Set<String> documented = Set.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                "torch._utils._rebuild_parameter", "torch.DoubleStorage", "torch.FloatStorage", "torch.HalfStorage",
                "torch.BFloat16Storage", "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage",
                "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage");
        check(documented.containsAll(ALLOWED), "the unpickler allows more than documented: " + ALLOWED);
        return documented;
    }

    static Object load(byte[] pickle) {
        try {
            return LOAD.invoke(null, Path.of("fuzz.bin"), "archive/data.pkl", pickle);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void checkGlobals(Object value) {
        walk(value, o -> {
            if (o.getClass().getSimpleName().equals("Global")) {
                String q = component(o, "module") + "." + component(o, "name");
                check(allowed().contains(q), "the value holds the global '" + q + "'");
            }
        });
    }

    /** Every object reachable from {@code root} (records' components, lists', dicts' and tuples' items), once. */
    private static void walk(Object root, java.util.function.Consumer<Object> visit) {
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Object> todo = new ArrayDeque<>();
        if (root != null) todo.push(root);
        while (!todo.isEmpty()) {
            Object o = todo.pop();
            if (!seen.add(o)) continue;
            visit.accept(o);
            Class<?> c = o.getClass();
            if (c.isRecord()) {
                for (RecordComponent rc : c.getRecordComponents()) add(todo, component(o, rc.getName()));
            } else if (c.getName().startsWith("io.mergestream.")) {
                for (Field f : c.getDeclaredFields()) {
                    if (java.lang.reflect.Modifier.isStatic(f.getModifiers())) continue;
                    try {
                        f.setAccessible(true);
                        add(todo, f.get(o));
                    } catch (ReflectiveOperationException | RuntimeException e) {
                        // an enum constant's fields; nothing reachable
                    }
                }
            }
        }
    }

    private static void add(Deque<Object> todo, Object v) {
        if (v == null) return;
        if (v instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (e.getKey() != null) todo.push(e.getKey());
                if (e.getValue() != null) todo.push(e.getValue());
            }
        } else if (v instanceof Collection<?> c) {
            for (Object x : c) if (x != null) todo.push(x);
        } else {
            todo.push(v);
        }
    }

    private static Object component(Object record, String name) {
        try {
            Method m = record.getClass().getDeclaredMethod(name);
            m.setAccessible(true);
            return m.invoke(record);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The globals an accepted pickle names, walking its opcodes from the start to its STOP as Python's unpickler
     * would (after a successful load every opcode reached is one the restricted unpickler knows, so their
     * argument sizes are known): GLOBAL's two lines exactly, and for STACK_GLOBAL the last two strings pushed
     * (directly or through BINGET/LONG_BINGET of a memoized string), which is what pickle writes. Bytes after
     * STOP are never reached, so they are not scanned.
     */
    static Set<String> scanGlobals(byte[] p) {
        Set<String> out = new java.util.HashSet<>();
        Map<Long, String> memoStrings = new java.util.HashMap<>();
        String last = null;
        String beforeLast = null;
        String top = null; // the string the previous opcode pushed, or null
        long memoized = 0;
        int i = 0;
        while (i < p.length) {
            int op = p[i++] & 0xFF;
            String pushed = null;
            switch (op) {
                case '.' -> {
                    return out;
                }
                case 0x80, 'K', 'q', 'h' -> {
                    if (i >= p.length) return out;
                    long idx = p[i] & 0xFF;
                    if (op == 'q' && top != null) memoStrings.put(idx, top);
                    if (op == 'h') pushed = memoStrings.get(idx);
                    i += 1;
                }
                case 'M' -> i += 2;
                case 'J', 'r', 'j' -> {
                    if (i + 4 > p.length) return out;
                    long idx = FuzzSupport.u32(p, i);
                    if (op == 'r' && top != null) memoStrings.put(idx, top);
                    if (op == 'j') pushed = memoStrings.get(idx);
                    i += 4;
                }
                case 0x95, 'G' -> i += 8;
                case 0x94 -> {
                    if (top != null) memoStrings.put(memoized, top);
                    memoized++;
                }
                case 0x8a -> i += 1 + (i < p.length ? p[i] & 0xFF : 0);
                case 'X', 0x8c, 0x8d -> {
                    int lenBytes = op == 'X' ? 4 : op == 0x8c ? 1 : 8;
                    if (i + lenBytes > p.length) return out;
                    long n = op == 0x8c ? p[i] & 0xFF : FuzzSupport.u32(p, i);
                    i += lenBytes;
                    if (n > p.length - i) return out;
                    pushed = utf8(p, i, i + (int) n);
                    i += (int) n;
                }
                case 'c' -> {
                    int a = indexOf(p, (byte) '\n', i);
                    int b = a < 0 ? -1 : indexOf(p, (byte) '\n', a + 1);
                    if (b < 0) return out;
                    out.add(ascii(p, i, a) + "." + ascii(p, a + 1, b));
                    i = b + 1;
                }
                case 0x93 -> {
                    if (beforeLast != null && last != null) out.add(beforeLast + "." + last);
                }
                default -> {
                    // no argument: MARK, containers, tuples, REDUCE, BINPERSID, SETITEM(S), APPEND(S), BUILD ...
                }
            }
            if (pushed != null) {
                beforeLast = last;
                last = pushed;
            }
            top = pushed;
        }
        return out;
    }

    private static int indexOf(byte[] p, byte b, int from) {
        for (int i = from; i < p.length && i < from + 256; i++) if (p[i] == b) return i;
        return -1;
    }

    private static final byte[] CENTRAL_HEADER = {'P', 'K', 1, 2};

    private static int indexOf(byte[] p, byte[] sig, int from) {
        outer:
        for (int i = from; i <= p.length - sig.length; i++) {
            for (int k = 0; k < sig.length; k++) if (p[i + k] != sig[k]) continue outer;
            return i;
        }
        return -1;
    }

    private static String ascii(byte[] p, int from, int to) {
        return new String(p, from, to - from, StandardCharsets.ISO_8859_1);
    }

    private static String utf8(byte[] p, int from, int to) {
        return new String(p, from, to - from, StandardCharsets.UTF_8);
    }
}
