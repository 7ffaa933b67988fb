package io.mergestream.format.torch;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Emits pickle opcodes by hand, the way CPython's protocol-2 pickler (torch.save's) writes a state dict, so
 * that tests can build data.pkl variants the real fixtures do not cover. It follows the pickle format
 * (Lib/pickletools.py), not the reader.
 */
final class PickleBuilder {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    PickleBuilder op(int opcode) {
        out.write(opcode);
        return this;
    }

    PickleBuilder raw(byte... bytes) {
        out.writeBytes(bytes);
        return this;
    }

    PickleBuilder proto2() {
        return op(0x80).op(2);
    }

    PickleBuilder mark() {
        return op('(');
    }

    PickleBuilder emptyDict() {
        return op('}');
    }

    PickleBuilder emptyTuple() {
        return op(')');
    }

    PickleBuilder str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        le(b.length, 4);
        return raw(b);
    }

    /** The smallest integer opcode CPython's pickler would choose. */
    PickleBuilder integer(long v) {
        if (v >= 0 && v < 256) return op('K').op((int) v);
        if (v >= 0 && v < 65536) {
            op('M');
            return le(v, 2);
        }
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            op('J');
            return le(v, 4);
        }
        op(0x8a).op(8); // LONG1 with 8 bytes (enough for any long)
        return le(v, 8);
    }

    PickleBuilder global(String module, String name) {
        op('c');
        raw((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        return this;
    }

    PickleBuilder binput(int i) {
        return op('q').op(i);
    }

    PickleBuilder binget(int i) {
        return op('h').op(i);
    }

    PickleBuilder longs(long... v) {
        if (v.length == 0) return emptyTuple();
        if (v.length <= 3) {
            for (long x : v) integer(x);
            return op(0x84 + v.length); // TUPLE1..3
        }
        mark();
        for (long x : v) integer(x);
        return op('t');
    }

    /**
     * {@code _rebuild_tensor_v2(('storage', torch.TYPE, key, 'cpu', numel), offset, size, stride, False,
     * OrderedDict())} as torch.save writes it (without memoisation).
     */
    PickleBuilder tensor(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2");
        mark();
        mark().str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).op('t');
        op('Q'); // BINPERSID
        integer(offset).longs(size).longs(stride).op(0x89); // NEWFALSE
        global("collections", "OrderedDict").emptyTuple().op('R');
        op('t').op('R');
        return this;
    }

    PickleBuilder stop() {
        return op('.');
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    private PickleBuilder le(long v, int n) {
        for (int i = 0; i < n; i++) out.write((int) (v >>> (8 * i)) & 0xFF);
        return this;
    }
}
