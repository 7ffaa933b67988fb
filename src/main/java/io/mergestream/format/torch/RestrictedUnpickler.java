package io.mergestream.format.torch;

import io.mergestream.format.FormatException;
import io.mergestream.tensor.DType;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Interprets the {@code data.pkl} of a torch.save zip without Python's unpickler and without running anything:
 * a small stack machine over the opcodes a state dict uses (protocol 2, as torch.save writes it, plus the
 * protocol 4 FRAME/MEMOIZE/STACK_GLOBAL forms) whose only values are strings, integers, floats, booleans,
 * None, tuples, lists, dicts and this class's own descriptor records. Any other opcode is refused by name.
 *
 * <p>Globals are looked up in a fixed allow-list ({@link #ALLOWED}) the moment GLOBAL or STACK_GLOBAL names
 * them, before any REDUCE could apply them: {@code os.system}, {@code builtins.exec} or any class not on the
 * list stops the read with a message naming the file and the global. "Calling" an allowed callable with
 * REDUCE builds a record ({@link TensorRef} for {@code _rebuild_tensor_v2}, an empty dict for
 * {@code OrderedDict()}); nothing is instantiated by reflection. Storages arrive as persistent ids
 * (BINPERSID) {@code ('storage', torch.XStorage, key, location, numel)}, which become {@link StorageRef}s.
 *
 * <p>A hostile pickle cannot make it use unbounded memory: the input is at most {@link #MAX_PICKLE_BYTES},
 * and the stack, the memo and the total size of all containers are bounded.
 */
final class RestrictedUnpickler {

    /** A data.pkl is small (about 100 bytes per tensor); anything bigger is not a state dict. */
    static final int MAX_PICKLE_BYTES = 64 << 20;
    static final int MAX_STACK = 1 << 20;
    static final int MAX_MEMO = 1 << 20;
    static final long MAX_CONTAINER_ELEMENTS = 1 << 23;

    /** Python's None. */
    enum None { NONE }

    /** An allow-listed global, by its kind. */
    record Global(String module, String name, Kind kind, DType storageDtype) {
        enum Kind { ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_PARAMETER, STORAGE_TYPE }

        String qualified() {
            return module + "." + name;
        }
    }

    /**
     * A tuple; {@code depth} counts the tuples nested in it (1 for a flat one). Its hash and equality recurse
     * through the nesting (a tuple may be a dict key), so the depth is bounded: see {@link #MAX_NESTING}.
     */
    record Tuple(List<Object> items, int depth) {}

    /**
     * The deepest tuple nesting accepted. A state dict nests tuples two or three deep (a tensor's size and stride
     * inside its REDUCE arguments); a hostile pickle nesting thousands deep would overflow the stack when the
     * tuple is hashed as a dict key (found by the fuzzer: FuzzRegressionsTest).
     */
    static final int MAX_NESTING = 100;

    /** A list or a dict: mutable while the pickle fills it. */
    static final class PyList {
        final List<Object> items = new ArrayList<>();
    }

    static final class PyDict {
        final LinkedHashMap<Object, Object> items = new LinkedHashMap<>();
        /** What BUILD set (an OrderedDict's attributes, e.g. {@code _metadata}); never used. */
        Object state;
    }

    /** A storage: zip entry {@code data/KEY}, {@code numel} elements of {@code dtype}. */
    record StorageRef(String key, DType dtype, String typeName, long numel, String location) {}

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, ...)}: a view of a storage. */
    record TensorRef(StorageRef storage, long storageOffset, long[] size, long[] stride) {}

    /**
     * Everything {@code data.pkl} may name. The storage classes are those torch.save pickles for the dtypes a
     * state dict holds (complex and quantized storages are not merge material and stay off the list).
     */
    static final Map<String, Global> ALLOWED = allowed();

    private static Map<String, Global> allowed() {
        Map<String, Global> m = new HashMap<>();
        add(m, "collections", "OrderedDict", Global.Kind.ORDERED_DICT, null);
        add(m, "torch._utils", "_rebuild_tensor_v2", Global.Kind.REBUILD_TENSOR_V2, null);
        add(m, "torch._utils", "_rebuild_parameter", Global.Kind.REBUILD_PARAMETER, null);
        Object[][] storages = {
                {"DoubleStorage", DType.F64}, {"FloatStorage", DType.F32}, {"HalfStorage", DType.F16},
                {"BFloat16Storage", DType.BF16}, {"LongStorage", DType.I64}, {"IntStorage", DType.I32},
                {"ShortStorage", DType.I16}, {"CharStorage", DType.I8}, {"ByteStorage", DType.U8},
                {"BoolStorage", DType.BOOL}};
        for (Object[] s : storages) add(m, "torch", (String) s[0], Global.Kind.STORAGE_TYPE, (DType) s[1]);
        return Map.copyOf(m);
    }

    private static void add(Map<String, Global> m, String module, String name, Global.Kind kind, DType dtype) {
        m.put(module + "." + name, new Global(module, name, kind, dtype));
    }

    private final Path file;
    private final String record;
    private final byte[] in;
    private int pos;
    private final List<Object> stack = new ArrayList<>();
    private int[] marks = new int[16];
    private int markCount;
    private final Map<Long, Object> memo = new HashMap<>();
    private final Map<String, StorageRef> storages = new LinkedHashMap<>();
    private long containerElements;

    private RestrictedUnpickler(Path file, String record, byte[] in) {
        this.file = file;
        this.record = record;
        this.in = in;
    }

    /**
     * The object {@code pickle} (the bytes of {@code record} in {@code file}) describes; throws
     * {@link FormatException} naming file, record and the opcode or global refused.
     */
    static Object load(Path file, String record, byte[] pickle) {
        if (pickle.length > MAX_PICKLE_BYTES) {
            throw new FormatException(file, record + " is " + pickle.length + " bytes, more than the "
                    + (MAX_PICKLE_BYTES >> 20) + " MB a state dict's pickle can need; refused");
        }
        return new RestrictedUnpickler(file, record, pickle).run();
    }

    private Object run() {
        while (true) {
            if (pos >= in.length) throw bad("ends without a STOP opcode (truncated?)");
            int at = pos;
            int op = in[pos++] & 0xFF;
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = u8();
                    if (v > 5) throw bad("uses pickle protocol " + v + ", which does not exist");
                }
                case 0x95 -> { // FRAME: a length prefix for buffering; the opcodes inside are read as usual
                    long len = u64();
                    if (len > in.length - pos) throw bad("FRAME at byte " + at + " runs past the end");
                }
                case '.' -> { // STOP
                    return pop(at);
                }
                case '(' -> pushMark();
                case '}' -> push(new PyDict());
                case ']' -> push(new PyList());
                case ')' -> push(new Tuple(List.of(), 1));
                case 'd' -> { // DICT
                    List<Object> items = popMark(at);
                    PyDict d = new PyDict();
                    setItems(d, items, at);
                    push(d);
                }
                case 'l' -> { // LIST
                    List<Object> items = popMark(at);
                    PyList l = new PyList();
                    grow(items.size());
                    l.items.addAll(items);
                    push(l);
                }
                case 't' -> push(tuple(popMark(at)));
                case 0x85 -> push(tuple(List.of(pop(at))));
                case 0x86 -> {
                    Object b = pop(at);
                    Object a = pop(at);
                    push(tuple(List.of(a, b)));
                }
                case 0x87 -> {
                    Object c = pop(at);
                    Object b = pop(at);
                    Object a = pop(at);
                    push(tuple(List.of(a, b, c)));
                }
                case 'X' -> push(string(u32(), at)); // BINUNICODE
                case 0x8c -> push(string(u8(), at)); // SHORT_BINUNICODE
                case 0x8d -> push(string(u64(), at)); // BINUNICODE8
                case 'J' -> push((long) i32()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) u16()); // BININT2
                case 0x8a -> push(long1(at)); // LONG1
                case 'G' -> push(Double.longBitsToDouble(be64())); // BINFLOAT (big-endian, as pickle writes it)
                case 'N' -> push(None.NONE);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'c' -> push(global(line(at), line(at), at)); // GLOBAL
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(at);
                    Object module = pop(at);
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw bad("STACK_GLOBAL at byte " + at + " names a global with something other than strings");
                    }
                    push(global(m, n, at));
                }
                case 'R' -> { // REDUCE
                    Object args = pop(at);
                    Object callable = pop(at);
                    push(reduce(callable, args, at));
                }
                case 'Q' -> push(persistentLoad(pop(at), at)); // BINPERSID
                case 'q' -> memoPut(u8(), at); // BINPUT
                case 'r' -> memoPut(u32(), at); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size(), at); // MEMOIZE
                case 'h' -> memoGet(u8(), at); // BINGET
                case 'j' -> memoGet(u32(), at); // LONG_BINGET
                case 's' -> { // SETITEM
                    Object value = pop(at);
                    Object key = pop(at);
                    setItems(dictOnTop(at, "SETITEM"), List.of(key, value), at);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark(at);
                    setItems(dictOnTop(at, "SETITEMS"), items, at);
                }
                case 'a' -> { // APPEND
                    Object v = pop(at);
                    grow(1);
                    listOnTop(at, "APPEND").items.add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark(at);
                    grow(items.size());
                    listOnTop(at, "APPENDS").items.addAll(items);
                }
                case 'b' -> build(pop(at), at); // BUILD
                default -> throw bad("uses pickle opcode " + opcodeName(op) + " at byte " + at
                        + ", which a state dict never needs; refused");
            }
        }
    }

    private Global global(String module, String name, int at) {
        Global g = ALLOWED.get(module + "." + name);
        if (g == null) {
            throw new FormatException(file, record + " names the global '" + module + "." + name + "' (byte " + at
                    + "), which is not on the allow-list of state-dict types (OrderedDict, tensors, storages of the "
                    + "dtypes mergestream reads); refused before anything ran "
                    + "(mergestream never executes code from a checkpoint)");
        }
        return g;
    }

    private Object reduce(Object callable, Object args, int at) {
        if (!(callable instanceof Global g) || g.kind() == Global.Kind.STORAGE_TYPE) {
            throw bad("REDUCE at byte " + at + " applies " + describe(callable) + ", which is not an allowed callable");
        }
        if (!(args instanceof Tuple(List<Object> a, _))) {
            throw bad("REDUCE at byte " + at + " applies " + g.qualified() + " to " + describe(args) + ", not a tuple");
        }
        return switch (g.kind()) {
            case ORDERED_DICT -> {
                if (!a.isEmpty()) throw bad("OrderedDict at byte " + at + " is given arguments; a state dict's has none");
                yield new PyDict();
            }
            case REBUILD_TENSOR_V2 -> rebuildTensor(a, at);
            case REBUILD_PARAMETER -> {
                // _rebuild_parameter(data, requires_grad, backward_hooks): a Parameter is its tensor for us
                if (a.size() != 3 || !(a.get(0) instanceof TensorRef t)) {
                    throw bad("_rebuild_parameter at byte " + at + " is not given (tensor, requires_grad, hooks)");
                }
                checkHooks(a.get(2), at);
                yield t;
            }
            case STORAGE_TYPE -> throw new AssertionError();
        };
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private TensorRef rebuildTensor(List<Object> a, int at) {
        if (a.size() != 6 && a.size() != 7) {
            throw bad("_rebuild_tensor_v2 at byte " + at + " is given " + a.size() + " arguments, not 6 or 7");
        }
        if (!(a.get(0) instanceof StorageRef storage)) {
            throw bad("_rebuild_tensor_v2 at byte " + at + " is given " + describe(a.get(0)) + " as its storage");
        }
        if (!(a.get(1) instanceof Long offset) || offset < 0) {
            throw bad("_rebuild_tensor_v2 at byte " + at + " is given storage offset " + describe(a.get(1)));
        }
        long[] size = longs(a.get(2), "size", at);
        long[] stride = longs(a.get(3), "stride", at);
        if (size.length != stride.length) {
            throw bad("_rebuild_tensor_v2 at byte " + at + " is given size " + Arrays.toString(size) + " and stride "
                    + Arrays.toString(stride) + " of different ranks");
        }
        if (!(a.get(4) instanceof Boolean)) {
            throw bad("_rebuild_tensor_v2 at byte " + at + " is given requires_grad " + describe(a.get(4)));
        }
        checkHooks(a.get(5), at);
        return new TensorRef(storage, offset, size, stride);
    }

    /** Backward hooks would be pickled functions (refused as globals already); an empty OrderedDict is fine. */
    private void checkHooks(Object hooks, int at) {
        if (!(hooks instanceof PyDict d) || !d.items.isEmpty()) {
            throw bad("tensor at byte " + at + " carries backward hooks " + describe(hooks) + "; a state dict has none");
        }
    }

    private long[] longs(Object o, String what, int at) {
        if (!(o instanceof Tuple(List<Object> items, _))) {
            throw bad("_rebuild_tensor_v2 at byte " + at + " is given " + describe(o) + " as its " + what);
        }
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(items.get(i) instanceof Long v) || v < 0) {
                throw bad("_rebuild_tensor_v2 at byte " + at + " is given " + what + " entry " + describe(items.get(i)));
            }
            out[i] = v;
        }
        return out;
    }

    /** {@code ('storage', torch.XStorage, key, location, numel)}, as torch.save's persistent_id writes it. */
    private StorageRef persistentLoad(Object pid, int at) {
        if (!(pid instanceof Tuple(List<Object> t, _)) || t.size() != 5 || !"storage".equals(t.get(0))) {
            throw bad("persistent id at byte " + at + " is " + describe(pid) + ", not ('storage', type, key, location, numel)");
        }
        if (!(t.get(1) instanceof Global g) || g.kind() != Global.Kind.STORAGE_TYPE) {
            throw bad("persistent id at byte " + at + " names " + describe(t.get(1)) + " as its storage type");
        }
        if (!(t.get(2) instanceof String key) || !(t.get(3) instanceof String location)
                || !(t.get(4) instanceof Long numel) || numel < 0) {
            throw bad("persistent id at byte " + at + " is not ('storage', type, key, location, numel)");
        }
        StorageRef s = new StorageRef(key, g.storageDtype(), g.name(), numel, location);
        StorageRef seen = storages.putIfAbsent(key, s);
        if (seen != null && (seen.dtype() != s.dtype() || seen.numel() != s.numel())) {
            throw bad("storage '" + key + "' is described twice, as " + seen.numel() + " " + seen.typeName()
                    + " and as " + s.numel() + " " + s.typeName());
        }
        return seen != null ? seen : s;
    }

    /** BUILD on a dict: torch's OrderedDict state ({@code _metadata}), kept aside and ignored. */
    private void build(Object state, int at) {
        Object target = peek(at);
        if (!(target instanceof PyDict d)) {
            throw bad("BUILD at byte " + at + " sets the state of " + describe(target) + "; only a dict's is allowed");
        }
        boolean ok = state instanceof PyDict || state instanceof None
                || (state instanceof Tuple(List<Object> t, _) && t.size() == 2
                && t.stream().allMatch(x -> x instanceof PyDict || x instanceof None));
        if (!ok) throw bad("BUILD at byte " + at + " gives a dict the state " + describe(state));
        d.state = state;
    }

    private void setItems(PyDict d, List<Object> items, int at) {
        if (items.size() % 2 != 0) throw bad("dict items at byte " + at + " are not key-value pairs");
        grow(items.size() / 2);
        for (int i = 0; i < items.size(); i += 2) {
            Object key = items.get(i);
            if (key instanceof PyDict || key instanceof PyList) {
                throw bad("dict key at byte " + at + " is " + describe(key) + ", which Python cannot hash");
            }
            if (d.items.putIfAbsent(key, items.get(i + 1)) != null) {
                throw bad("sets the key " + describe(key) + " twice (byte " + at + ")");
            }
        }
    }

    private PyDict dictOnTop(int at, String op) {
        if (!(peek(at) instanceof PyDict d)) throw bad(op + " at byte " + at + " applies to " + describe(peek(at)));
        return d;
    }

    private PyList listOnTop(int at, String op) {
        if (!(peek(at) instanceof PyList l)) throw bad(op + " at byte " + at + " applies to " + describe(peek(at)));
        return l;
    }

    private Tuple tuple(List<Object> items) {
        grow(items.size());
        int depth = 1;
        for (Object o : items) if (o instanceof Tuple t) depth = Math.max(depth, t.depth() + 1);
        if (depth > MAX_NESTING) {
            throw bad("nests tuples more than " + MAX_NESTING + " deep, which no state dict does");
        }
        return new Tuple(List.copyOf(items), depth);
    }

    private void grow(long n) {
        containerElements += n;
        if (containerElements > MAX_CONTAINER_ELEMENTS) {
            throw bad("builds more than " + MAX_CONTAINER_ELEMENTS + " container elements; refused");
        }
    }

    private void memoPut(long index, int at) {
        if (memo.size() >= MAX_MEMO && !memo.containsKey(index)) throw bad("memo grows past " + MAX_MEMO + " entries");
        memo.put(index, peek(at));
    }

    private void memoGet(long index, int at) {
        Object v = memo.get(index);
        if (v == null) throw bad("reads memo entry " + index + " at byte " + at + ", which was never stored");
        push(v);
    }

    private void push(Object o) {
        if (stack.size() >= MAX_STACK) throw bad("stack grows past " + MAX_STACK + " entries");
        stack.add(o);
    }

    private Object pop(int at) {
        if (stack.size() <= (markCount == 0 ? 0 : marks[markCount - 1])) {
            throw bad("pops an empty stack at byte " + at);
        }
        return stack.removeLast();
    }

    private Object peek(int at) {
        if (stack.size() <= (markCount == 0 ? 0 : marks[markCount - 1])) {
            throw bad("reads an empty stack at byte " + at);
        }
        return stack.getLast();
    }

    private void pushMark() {
        if (markCount == MAX_STACK) throw bad("pushes more than " + MAX_STACK + " marks");
        if (markCount == marks.length) marks = Arrays.copyOf(marks, marks.length * 2);
        marks[markCount++] = stack.size();
    }

    private List<Object> popMark(int at) {
        if (markCount == 0) throw bad("has no MARK for the opcode at byte " + at);
        int from = marks[--markCount];
        List<Object> top = stack.subList(from, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    private int u8() {
        need(1);
        return in[pos++] & 0xFF;
    }

    private int u16() {
        need(2);
        int v = (in[pos] & 0xFF) | (in[pos + 1] & 0xFF) << 8;
        pos += 2;
        return v;
    }

    private int i32() {
        need(4);
        int v = (in[pos] & 0xFF) | (in[pos + 1] & 0xFF) << 8 | (in[pos + 2] & 0xFF) << 16 | (in[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long u32() {
        return Integer.toUnsignedLong(i32());
    }

    private long u64() {
        long lo = u32();
        long hi = u32();
        long v = hi << 32 | lo;
        if (v < 0) throw bad("gives a length beyond any file size at byte " + (pos - 8));
        return v;
    }

    private long be64() {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | (in[pos + i] & 0xFF);
        pos += 8;
        return v;
    }

    /** LONG1: a little-endian two's-complement integer of n bytes; more than 64 bits is refused. */
    private long long1(int at) {
        int n = u8();
        if (n > 8) throw bad("holds an integer wider than 64 bits at byte " + at);
        need(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = v << 8 | (in[pos + i] & 0xFF);
        if (n > 0 && n < 8 && (in[pos + n - 1] & 0x80) != 0) v -= 1L << (8 * n); // sign-extend
        pos += n;
        return v;
    }

    private String string(long length, int at) {
        if (length > in.length - pos) throw bad("string at byte " + at + " runs past the end");
        int n = (int) length;
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(in, pos, n)).toString();
            pos += n;
            return s;
        } catch (CharacterCodingException e) {
            throw bad("string at byte " + at + " is not UTF-8");
        }
    }

    /** A GLOBAL operand: printable ASCII up to a newline (module and attribute names are identifiers). */
    private String line(int at) {
        int start = pos;
        while (pos < in.length && in[pos] != '\n') {
            int c = in[pos] & 0xFF;
            if (c < 0x20 || c > 0x7E || pos - start > 200) throw bad("GLOBAL at byte " + at + " has a malformed name");
            pos++;
        }
        if (pos >= in.length) throw bad("GLOBAL at byte " + at + " runs past the end");
        String s = new String(in, start, pos - start, StandardCharsets.US_ASCII);
        pos++;
        return s;
    }

    private void need(int n) {
        if (n > in.length - pos) throw bad("ends in the middle of an opcode at byte " + pos + " (truncated?)");
    }

    private static String describe(Object o) {
        return switch (o) {
            case null -> "nothing";
            case String s -> "'" + (s.length() > 60 ? s.substring(0, 60) + "..." : s) + "'";
            case Long l -> Long.toString(l);
            case Double d -> Double.toString(d);
            case Boolean b -> b ? "True" : "False";
            case None n -> "None";
            case Global g -> g.qualified();
            case Tuple t -> "a tuple of " + t.items().size();
            case PyList l -> "a list";
            case PyDict d -> "a dict of " + d.items.size();
            case StorageRef s -> "a storage";
            case TensorRef t -> "a tensor";
            default -> o.getClass().getSimpleName();
        };
    }

    private FormatException bad(String problem) {
        return new FormatException(file, record + " " + problem);
    }

    /** Opcode names as Python's pickletools spells them, for the refusal message. */
    static String opcodeName(int op) {
        String name = switch (op) {
            case '(' -> "MARK"; case '.' -> "STOP"; case '0' -> "POP"; case '1' -> "POP_MARK"; case '2' -> "DUP";
            case 'F' -> "FLOAT"; case 'I' -> "INT"; case 'J' -> "BININT"; case 'K' -> "BININT1"; case 'L' -> "LONG";
            case 'M' -> "BININT2"; case 'N' -> "NONE"; case 'P' -> "PERSID"; case 'Q' -> "BINPERSID";
            case 'R' -> "REDUCE"; case 'S' -> "STRING"; case 'T' -> "BINSTRING"; case 'U' -> "SHORT_BINSTRING";
            case 'V' -> "UNICODE"; case 'X' -> "BINUNICODE"; case 'a' -> "APPEND"; case 'b' -> "BUILD";
            case 'c' -> "GLOBAL"; case 'd' -> "DICT"; case '}' -> "EMPTY_DICT"; case 'e' -> "APPENDS";
            case 'g' -> "GET"; case 'h' -> "BINGET"; case 'i' -> "INST"; case 'j' -> "LONG_BINGET";
            case 'l' -> "LIST"; case ']' -> "EMPTY_LIST"; case 'o' -> "OBJ"; case 'p' -> "PUT"; case 'q' -> "BINPUT";
            case 'r' -> "LONG_BINPUT"; case 's' -> "SETITEM"; case 't' -> "TUPLE"; case ')' -> "EMPTY_TUPLE";
            case 'u' -> "SETITEMS"; case 'G' -> "BINFLOAT"; case 0x80 -> "PROTO"; case 0x81 -> "NEWOBJ";
            case 0x82 -> "EXT1"; case 0x83 -> "EXT2"; case 0x84 -> "EXT4"; case 0x85 -> "TUPLE1";
            case 0x86 -> "TUPLE2"; case 0x87 -> "TUPLE3"; case 0x88 -> "NEWTRUE"; case 0x89 -> "NEWFALSE";
            case 0x8a -> "LONG1"; case 0x8b -> "LONG4"; case 'B' -> "BINBYTES"; case 'C' -> "SHORT_BINBYTES";
            case 0x8c -> "SHORT_BINUNICODE"; case 0x8d -> "BINUNICODE8"; case 0x8e -> "BINBYTES8";
            case 0x8f -> "EMPTY_SET"; case 0x90 -> "ADDITEMS"; case 0x91 -> "FROZENSET"; case 0x92 -> "NEWOBJ_EX";
            case 0x93 -> "STACK_GLOBAL"; case 0x94 -> "MEMOIZE"; case 0x95 -> "FRAME"; case 0x96 -> "BYTEARRAY8";
            case 0x97 -> "NEXT_BUFFER"; case 0x98 -> "READONLY_BUFFER";
            default -> "unknown";
        };
        return name + String.format(Locale.ROOT, " (0x%02x)", op);
    }
}
