package io.mergestream.fuzz;

import static io.mergestream.fuzz.FuzzSupport.check;
import static io.mergestream.fuzz.FuzzSupport.planted;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mergestream.MergestreamException;
import io.mergestream.format.Checkpoint;
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
 * STACK_GLOBAL (two SHORT_BINUNICODE strings, an optional BINPUT or MEMOIZE after each) that a scan of the bytes
 * finds names a global off the list (an over-approximation of what the pickle names: a scan hit inside another
 * opcode's argument is possible; a finding is then checked by hand).
 */
class TorchBinFuzzTest {

    @TempDir
    static Path dir;

    @FuzzTest
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void fuzzTorchZip(byte[] file) {
        FuzzSupport.write(dir.resolve(Checkpoint.BIN_FILE), file);
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

    /** Globals the bytes name: text GLOBAL ('c' module '\n' name '\n') and STACK_GLOBAL after two short strings. */
    static Set<String> scanGlobals(byte[] p) {
        Set<String> out = new java.util.HashSet<>();
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 'c') {
                int a = indexOf(p, (byte) '\n', i + 1);
                int b = a < 0 ? -1 : indexOf(p, (byte) '\n', a + 1);
                if (b > 0 && printable(p, i + 1, a) && printable(p, a + 1, b)) {
                    out.add(ascii(p, i + 1, a) + "." + ascii(p, a + 1, b));
                    i = b; // past this GLOBAL: a 'c' inside its names ("torch") starts none
                }
            } else if ((p[i] & 0xFF) == 0x8c) {
                int[] s1 = shortString(p, i);
                if (s1 == null) continue;
                int j = skipMemo(p, s1[1]);
                if (j < p.length && (p[j] & 0xFF) == 0x8c) {
                    int[] s2 = shortString(p, j);
                    if (s2 == null) continue;
                    int k = skipMemo(p, s2[1]);
                    if (k < p.length && (p[k] & 0xFF) == 0x93) {
                        out.add(utf8(p, i + 2, s1[1]) + "." + utf8(p, j + 2, s2[1]));
                    }
                }
            }
        }
        return out;
    }

    /** [start of the string, end] of the SHORT_BINUNICODE at {@code at}, or null when it runs past the end. */
    /** What the unpickler's GLOBAL accepts as a name: printable ASCII. */
    private static boolean printable(byte[] p, int from, int to) {
        for (int i = from; i < to; i++) if (p[i] < 0x20 || p[i] > 0x7E) return false;
        return true;
    }

    private static int[] shortString(byte[] p, int at) {
        if (at + 1 >= p.length) return null;
        int end = at + 2 + (p[at + 1] & 0xFF);
        return end > p.length ? null : new int[] {at + 2, end};
    }

    private static int skipMemo(byte[] p, int at) {
        if (at < p.length && p[at] == 'q') return at + 2;
        if (at < p.length && (p[at] & 0xFF) == 0x94) return at + 1;
        return at;
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
