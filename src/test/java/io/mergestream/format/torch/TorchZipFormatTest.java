package io.mergestream.format.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.Warnings;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.FormatException;
import io.mergestream.format.StoredTensor;
import io.mergestream.tensor.DType;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * torch zips the tests write themselves: zip64 beyond 4 GiB (sparse), BUILD on the state dict, files re-zipped
 * by another zip writer (unaligned, or deflated), the integer and bool storages, and every rule the reader
 * enforces, each refused in one line naming the file.
 */
class TorchZipFormatTest {

    static final Path FT1 = TorchBinFixturesTest.FIXTURES.resolve("ft1").resolve("pytorch_model.bin");
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path tmp;

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    /** {@code {name: tensor}} in order, then STOP. */
    static PickleBuilder stateDict() {
        return new PickleBuilder().proto2().emptyDict().mark();
    }

    /** A torch-style zip: data.pkl, the storages as data/KEY, version. */
    Path zip(String file, byte[] pickle, Map<String, byte[]> storages) {
        Path p = tmp.resolve(file);
        try (TorchZipWriter w = new TorchZipWriter(p, "archive", true)) {
            w.add("data.pkl", pickle);
            storages.forEach((k, v) -> w.add("data/" + k, v));
            w.add("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        return p;
    }

    /** One F32 tensor 'w' of [2, 2] over storage "0" of 4 floats. */
    byte[] oneTensor() {
        return stateDict().str("w").tensor("FloatStorage", "0", 4, 0, new long[] {2, 2}, new long[] {2, 1})
                .op('u').stop().bytes();
    }

    static FormatException refused(Path file, String... words) {
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(file).close());
        String msg = e.getMessage();
        assertFalse(msg.contains("\n") || msg.contains("\r"), "not one line: " + msg);
        assertTrue(msg.startsWith(file.toString()), "does not name " + file + ": " + msg);
        for (String w : words) assertTrue(msg.contains(w), "lacks '" + w + "': " + msg);
        return e;
    }

    @Test
    void zip64EntryOver4GiBAndAnEntryBeyond4GiBAreMappedInPlace() throws IOException {
        long n = (1L << 30) + 16; // 4 GiB + 64 bytes of f32
        byte[] pickle = stateDict()
                .str("big").tensor("FloatStorage", "0", n, 0, new long[] {n}, new long[] {1})
                .str("small").tensor("FloatStorage", "1", 4, 1, new long[] {3}, new long[] {1})
                .op('u').stop().bytes();
        Path p = tmp.resolve("zip64.bin");
        try (TorchZipWriter w = new TorchZipWriter(p, "zip64", true)) {
            w.add("data.pkl", pickle);
            w.addSparse("data/0", n * 4, floats(1.5f, -2.25f)); // a hole but for the last two elements
            w.add("data/1", floats(10, 11, 12, 13));
            w.add("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        }
        try {
            assertTrue(Files.size(p) > (4L << 30));
            // the JDK's own zip reader agrees on the zip64 sizes this test wrote
            try (ZipFile jdk = new ZipFile(p.toFile())) {
                assertEquals(n * 4, jdk.getEntry("zip64/data/0").getSize());
                assertEquals(16, jdk.getEntry("zip64/data/1").getSize());
            }
            try (Checkpoint c = Checkpoint.open(p)) {
                StoredTensor big = c.tensor("big");
                assertArrayEquals(new long[] {n}, big.info().shape());
                MemorySegment d = big.data();
                assertEquals(n * 4, d.byteSize());
                assertTrue(d.isMapped());
                assertEquals(0f, d.get(F32, 0));
                assertEquals(1.5f, d.get(F32, 4 * (n - 2)));
                assertEquals(-2.25f, d.get(F32, 4 * (n - 1)));
                assertEquals(0, big.shard().fileOffset(big.info()) % 64, "torch's 64-byte alignment");
                StoredTensor small = c.tensor("small");
                // its local header lies past 4 GiB: only the zip64 extra field of the central directory says where
                assertTrue(small.shard().fileOffset(small.info()) > (4L << 30));
                MemorySegment s = small.data();
                assertEquals(11f, s.get(F32, 0));
                assertEquals(12f, s.get(F32, 4));
                assertEquals(13f, s.get(F32, 8));
            }
        } finally {
            Files.delete(p);
        }
    }

    /** torch.save(model.state_dict()): the OrderedDict's _metadata attribute arrives by BUILD, and is ignored. */
    @Test
    void stateDictPickledWithBuildReads() {
        PickleBuilder b = new PickleBuilder().proto2().global("collections", "OrderedDict").binput(0)
                .emptyTuple().op('R').binput(1).mark()
                .str("a").tensor("FloatStorage", "0", 4, 0, new long[] {2, 2}, new long[] {2, 1})
                .str("b").tensor("FloatStorage", "0", 4, 2, new long[] {2}, new long[] {1})
                .op('u');
        b.emptyDict().str("_metadata").binget(0).emptyTuple().op('R').mark()
                .str("").emptyDict().str("version").integer(1).op('s')
                .str("layer").emptyDict().str("version").integer(1).op('s')
                .op('u').op('s').op('b').stop();
        Path p = zip("build.bin", b.bytes(), Map.of("0", floats(1, 2, 3, 4)));
        try (Checkpoint c = Checkpoint.open(p)) {
            assertEquals(List.of("a", "b"), c.tensors().stream().map(StoredTensor::name).toList());
            assertEquals(16, c.tensor("a").data().byteSize());
            assertEquals(3f, c.tensor("b").data().get(F32, 0));
            assertEquals(4f, c.tensor("b").data().get(F32, 4));
        }
    }

    @Test
    void buildOnAnythingButADictIsRefused() {
        byte[] p = stateDict().str("w").tensor("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                .emptyDict().op('b').op('u').stop().bytes();
        refused(zip("build-tensor.bin", p, Map.of("0", floats(1, 2, 3, 4))), "BUILD", "only a dict's");
    }

    /** Re-zipped by java.util.zip: no 64-byte padding, local headers with sizes and no data descriptor. */
    @Test
    void reZippedUnalignedFileReadsAsTheOriginal() throws IOException {
        Path p = rezip("unaligned.bin", ZipEntry.STORED);
        try (Checkpoint re = Checkpoint.open(p); Checkpoint orig = Checkpoint.open(FT1)) {
            TorchBinFixturesTest.assertSameTensors(orig, re);
            assertTrue(re.tensors().stream().anyMatch(t -> t.shard().fileOffset(t.info()) % 64 != 0),
                    "the re-zipped entries should not be 64-byte aligned");
            for (StoredTensor t : re.tensors()) assertTrue(t.data().isMapped(), t.name());
        }
    }

    @Test
    void reZippedDeflatedFileIsInflatedOffHeapAndFreedAfterReading() throws IOException {
        Path p = rezip("deflated.bin", ZipEntry.DEFLATED);
        try (Checkpoint re = Checkpoint.open(p); Checkpoint orig = Checkpoint.open(FT1)) {
            TorchBinFixturesTest.assertSameTensors(orig, re);
            for (StoredTensor t : re.tensors()) {
                MemorySegment d = t.data();
                assertFalse(d.isMapped(), t.name() + " should be inflated scratch memory");
                assertTrue(d.isNative(), t.name() + " should be off-heap");
                t.doneReading(false);
                assertFalse(d.scope().isAlive(), t.name() + ": its storage is freed once read");
                // read again after release: inflated anew, same bytes
                assertEquals(-1, orig.tensor(t.name()).data().mismatch(t.data()), t.name());
                t.doneReading(true);
            }
        }
    }

    /** Every record of ft1's .bin copied by java.util.zip.ZipOutputStream with {@code method}. */
    private Path rezip(String name, int method) throws IOException {
        Path p = tmp.resolve(name);
        try (ZipFile in = new ZipFile(FT1.toFile()); OutputStream os = Files.newOutputStream(p);
             ZipOutputStream out = new ZipOutputStream(os)) {
            out.setComment("re-zipped");
            for (ZipEntry e : Collections.list(in.entries())) {
                byte[] data = in.getInputStream(e).readAllBytes();
                ZipEntry copy = new ZipEntry(e.getName());
                copy.setMethod(method);
                if (method == ZipEntry.STORED) {
                    CRC32 crc = new CRC32();
                    crc.update(data);
                    copy.setSize(data.length);
                    copy.setCompressedSize(data.length);
                    copy.setCrc(crc.getValue());
                }
                out.putNextEntry(copy);
                out.write(data);
                out.closeEntry();
            }
        }
        return p;
    }

    @Test
    void integerAndBoolStoragesAreReadAsTheirDtypes() {
        ByteBuffer longs = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(-1).putLong(1L << 40).putLong(7);
        byte[] pickle = stateDict()
                .str("position_ids").tensor("LongStorage", "0", 3, 0, new long[] {1, 3}, new long[] {3, 1})
                .str("mask").tensor("BoolStorage", "1", 4, 0, new long[] {4}, new long[] {1})
                .str("scalar").tensor("IntStorage", "2", 1, 0, new long[] {}, new long[] {})
                .str("half").tensor("HalfStorage", "3", 2, 0, new long[] {2}, new long[] {1})
                .str("bf").tensor("BFloat16Storage", "4", 2, 0, new long[] {2}, new long[] {1})
                .str("d").tensor("DoubleStorage", "5", 1, 0, new long[] {1}, new long[] {1})
                .op('u').stop().bytes();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        storages.put("0", longs.array());
        storages.put("1", new byte[] {1, 0, 0, 1});
        storages.put("2", new byte[] {5, 0, 0, 0});
        storages.put("3", new byte[4]);
        storages.put("4", new byte[4]);
        storages.put("5", new byte[8]);
        try (Checkpoint c = Checkpoint.open(zip("ints.bin", pickle, storages))) {
            assertEquals(DType.I64, c.tensor("position_ids").info().dtype());
            assertEquals(1L << 40, c.tensor("position_ids").data().get(I64, 8));
            assertEquals(DType.BOOL, c.tensor("mask").info().dtype());
            assertEquals(4, c.tensor("mask").data().byteSize());
            assertEquals(DType.I32, c.tensor("scalar").info().dtype());
            assertEquals(0, c.tensor("scalar").info().rank());
            assertEquals(4, c.tensor("scalar").data().byteSize());
            assertEquals(DType.F16, c.tensor("half").info().dtype());
            assertEquals(DType.BF16, c.tensor("bf").info().dtype());
            assertEquals(DType.F64, c.tensor("d").info().dtype());
        }
    }

    @Test
    void nonTensorValuesAreSkippedWithAWarning() {
        List<String> warnings = Collections.synchronizedList(new ArrayList<>());
        Warnings.Listener previous = Warnings.set(warnings::add);
        try {
            byte[] pickle = stateDict().str("w").tensor("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                    .str("step").integer(1000).op('u').stop().bytes();
            Path p = zip("step.bin", pickle, Map.of("0", floats(1, 2, 3, 4)));
            try (Checkpoint c = Checkpoint.open(p)) {
                assertEquals(1, c.tensorCount());
            }
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.getFirst().contains("'step'") && warnings.getFirst().contains(p.toString()), warnings.getFirst());
        } finally {
            Warnings.set(previous);
        }
    }

    /** The integers of the persistent id and view through LONG1: little-endian two's complement. */
    @Test
    void long1DecodesAsPythonDoes() {
        // numel 40000 as a 3-byte LONG1: 0x40 0x9c 0x00 = 0x009c40
        byte[] ok = long1Storage((byte) 3, (byte) 0x40, (byte) 0x9c, (byte) 0x00)
                .integer(0).longs(200, 200).longs(200, 1).op(0x89).global("collections", "OrderedDict").emptyTuple().op('R')
                .op('t').op('R').op('u').stop().bytes();
        try (Checkpoint c = Checkpoint.open(zip("long1.bin", ok, Map.of("0", new byte[40000])))) {
            assertArrayEquals(new long[] {200, 200}, c.tensor("w").info().shape());
            assertEquals(DType.U8, c.tensor("w").info().dtype());
        }
        // 0x00 0x80 is -32768 (the sign bit of the last byte), a numel no storage has
        byte[] negative = long1Storage((byte) 2, (byte) 0x00, (byte) 0x80).stop().bytes();
        refused(zip("negative.bin", negative, Map.of("0", new byte[0])), "persistent id", "not ('storage'");
        // wider than 64 bits: refused, not truncated
        byte[] wide = long1Storage((byte) 9, new byte[9]).stop().bytes();
        refused(zip("wide.bin", wide, Map.of("0", new byte[0])), "wider than 64 bits");
    }

    /** {'w': _rebuild_tensor_v2(('storage', ByteStorage, '0', 'cpu', LONG1 ...)) up to the persistent load. */
    private static PickleBuilder long1Storage(byte n, byte... le) {
        return new PickleBuilder().proto2().emptyDict().mark()
                .str("w").global("torch._utils", "_rebuild_tensor_v2").mark()
                .mark().str("storage").global("torch", "ByteStorage").str("0").str("cpu")
                .op(0x8a).raw(n).raw(le).op('t').op('Q');
    }

    @Test
    void storageSizeMustMatchNumel() {
        byte[] p = stateDict().str("w").tensor("FloatStorage", "0", 5, 0, new long[] {5}, new long[] {1})
                .op('u').stop().bytes();
        refused(zip("numel.bin", p, Map.of("0", floats(1, 2, 3, 4))), "tensor 'w'", "5 F32 elements (20 bytes)", "holds 16 bytes");
    }

    @Test
    void viewMustStayInsideItsStorage() {
        byte[] p = stateDict().str("w").tensor("FloatStorage", "0", 4, 2, new long[] {3}, new long[] {1})
                .op('u').stop().bytes();
        refused(zip("past.bin", p, Map.of("0", floats(1, 2, 3, 4))), "tensor 'w'", "reaches past its storage of 4 elements");
        byte[] strided = stateDict().str("w").tensor("FloatStorage", "0", 4, 0, new long[] {2, 2}, new long[] {3, 1})
                .op('u').stop().bytes();
        refused(zip("strided-past.bin", strided, Map.of("0", floats(1, 2, 3, 4))), "tensor 'w'", "reaches past");
    }

    @Test
    void shapesThatOverflowAreRefused() {
        byte[] p = stateDict().str("w").tensor("FloatStorage", "0", 4, 0, new long[] {1L << 62, 4}, new long[] {4, 1})
                .op('u').stop().bytes();
        refused(zip("overflow.bin", p, Map.of("0", floats(1, 2, 3, 4))), "tensor 'w'", "overflows 64 bits");
    }

    @Test
    void aNameSetTwiceIsRefused() {
        byte[] p = stateDict().str("w").tensor("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1})
                .str("w").tensor("FloatStorage", "0", 4, 0, new long[] {4}, new long[] {1}).op('u').stop().bytes();
        refused(zip("twice.bin", p, Map.of("0", floats(1, 2, 3, 4))), "'w' twice");
    }

    @Test
    void aMissingStorageIsRefused() {
        byte[] p = stateDict().str("w").tensor("FloatStorage", "7", 4, 0, new long[] {4}, new long[] {1})
                .op('u').stop().bytes();
        refused(zip("missing.bin", p, Map.of("0", floats(1, 2, 3, 4))), "tensor 'w'", "archive/data/7", "not in the archive");
    }

    @Test
    void opcodesAStateDictNeverUsesAreRefusedByName() {
        byte[] p = new PickleBuilder().op('S').raw("'x'\n".getBytes(StandardCharsets.US_ASCII)).stop().bytes();
        refused(zip("string.bin", p, Map.of()), "archive/data.pkl", "opcode STRING (0x53) at byte 0");
        byte[] inst = new PickleBuilder().proto2().op(0x81).stop().bytes();
        refused(zip("newobj.bin", inst, Map.of()), "NEWOBJ (0x81) at byte 2");
    }

    @Test
    void aStorageClassIsNotCallable() {
        byte[] p = new PickleBuilder().proto2().global("torch", "FloatStorage").emptyTuple().op('R').stop().bytes();
        refused(zip("storage-call.bin", p, Map.of()), "REDUCE", "torch.FloatStorage", "not an allowed callable");
    }

    @Test
    void globalsOffTheListAreRefusedByStackGlobalToo() {
        byte[] p = new PickleBuilder().proto2().str("subprocess").str("Popen").op(0x93).stop().bytes();
        refused(zip("stack-global.bin", p, Map.of()), "'subprocess.Popen'", "refused before anything ran");
        byte[] torchOther = new PickleBuilder().proto2().global("torch", "load").stop().bytes();
        refused(zip("torch-load.bin", torchOther, Map.of()), "'torch.load'");
    }

    @Test
    void malformedPicklesAreRefused() {
        refused(zip("no-stop.bin", new PickleBuilder().proto2().emptyDict().bytes(), Map.of()), "without a STOP");
        refused(zip("underflow.bin", new PickleBuilder().proto2().op('s').stop().bytes(), Map.of()), "empty stack");
        refused(zip("memo.bin", new PickleBuilder().proto2().binget(5).stop().bytes(), Map.of()), "memo entry 5");
        refused(zip("list.bin", new PickleBuilder().proto2().op(']').stop().bytes(), Map.of()), "not a state dict");
        refused(zip("short.bin", new PickleBuilder().proto2().op('X').raw((byte) 100, (byte) 0, (byte) 0, (byte) 0)
                .stop().bytes(), Map.of()), "runs past the end");
        PickleBuilder deep = new PickleBuilder().proto2();
        for (int i = 0; i <= RestrictedUnpickler.MAX_STACK; i++) deep.emptyTuple();
        refused(zip("deep.bin", deep.stop().bytes(), Map.of()), "stack grows past 1048576 entries");
        byte[] nested = stateDict().str("state_dict").emptyDict().op('u').stop().bytes();
        refused(zip("nested.bin", nested, Map.of()), "tensor 'state_dict'", "not a flat state dict");
    }

    @Test
    void aPickleOver64MBIsRefusedBeforeItIsRead() {
        Path p = tmp.resolve("huge-pickle.bin");
        try (TorchZipWriter w = new TorchZipWriter(p, "archive", true)) {
            w.addSparse("data.pkl", 65L << 20, new byte[] {'.'});
        }
        refused(p, "data.pkl is 68157440 bytes", "refused");
    }

    @Test
    void bigEndianFilesAreRefused() {
        Path p = tmp.resolve("big-endian.bin");
        try (TorchZipWriter w = new TorchZipWriter(p, "archive", true)) {
            w.add("data.pkl", oneTensor());
            w.add("byteorder", "big".getBytes(StandardCharsets.US_ASCII));
            w.add("data/0", floats(1, 2, 3, 4));
        }
        refused(p, "big-endian", "byteorder 'big'");
        Path little = tmp.resolve("little-endian.bin");
        try (TorchZipWriter w = new TorchZipWriter(little, "archive", true)) {
            w.add("data.pkl", oneTensor());
            w.add("byteorder", "little".getBytes(StandardCharsets.US_ASCII));
            w.add("data/0", floats(1, 2, 3, 4));
        }
        try (Checkpoint c = Checkpoint.open(little)) {
            assertEquals(2f, c.tensor("w").data().get(F32, 4));
        }
    }

    @Test
    void torchScriptArchivesAreRefusedByName() {
        Path p = tmp.resolve("script.pt");
        try (TorchZipWriter w = new TorchZipWriter(p, "archive", true)) {
            w.add("constants.pkl", new PickleBuilder().proto2().emptyTuple().stop().bytes());
            w.add("code/__torch__.py", "def forward(self): pass\n".getBytes(StandardCharsets.US_ASCII));
        }
        refused(p, "TorchScript");
    }

    @Test
    void corruptOrUnknownEntriesAreRefused() {
        Path crc = tmp.resolve("crc.bin");
        try (TorchZipWriter w = new TorchZipWriter(crc, "archive", true)) {
            w.addRaw("data.pkl", 0, 12345, oneTensor().length, oneTensor());
        }
        refused(crc, "data.pkl", "CRC-32");
        Path bzip = tmp.resolve("bzip2.bin");
        try (TorchZipWriter w = new TorchZipWriter(bzip, "archive", true)) {
            w.addRaw("data.pkl", 12, 0, 10, new byte[10]);
        }
        refused(bzip, "compression method 12");
    }

    @Test
    void truncatedAndOverlappingArchivesAreRefused() throws IOException {
        Path ok = zip("ok.bin", oneTensor(), Map.of("0", floats(1, 2, 3, 4)));
        byte[] all = Files.readAllBytes(ok);
        Path cut = tmp.resolve("cut.bin");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 40));
        refused(cut, "no zip end record");
        // the central directory claims data.pkl is 200 bytes longer: it would run over data/0's local header
        Path overlap = tmp.resolve("overlap.bin");
        byte[] patched = all.clone();
        int cd = lastIndexOf(patched, new byte[] {'P', 'K', 1, 2});
        int first = indexOf(patched, new byte[] {'P', 'K', 1, 2});
        assertNotEquals(cd, first);
        ByteBuffer b = ByteBuffer.wrap(patched).order(ByteOrder.LITTLE_ENDIAN);
        int size = b.getInt(first + 20);
        b.putInt(first + 20, size + 200).putInt(first + 24, size + 200);
        Files.write(overlap, patched);
        refused(overlap, "overlaps the entry 'archive/data.pkl'");
        // flag bit 0 in the central directory: encrypted
        byte[] encrypted = all.clone();
        encrypted[first + 8] |= 1;
        refused(write("encrypted.bin", encrypted), "zip entry 'archive/data.pkl' is encrypted");
        // the local header of data.pkl (the first record) spells another name than the central directory
        byte[] renamed = all.clone();
        renamed[30 + "archive/".length()] = 'D';
        refused(write("renamed.bin", renamed), "local header names another entry");
        // the zip64 locator points into the middle of nowhere
        byte[] lost = all.clone();
        int locator = lastIndexOf(lost, new byte[] {'P', 'K', 6, 7});
        ByteBuffer.wrap(lost).order(ByteOrder.LITTLE_ENDIAN).putLong(locator + 8, 3);
        refused(write("lost.bin", lost), "locator points to 3");
    }

    private Path write(String name, byte[] bytes) throws IOException {
        return Files.write(tmp.resolve(name), bytes);
    }

    @Test
    void anEntryOutsideAFolderIsNotATorchCheckpoint() throws IOException {
        Path p = tmp.resolve("flat.bin");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(p))) {
            out.putNextEntry(new ZipEntry("data.pkl"));
            out.write(oneTensor());
            out.closeEntry();
        }
        refused(p, "'data.pkl' is not in a folder");
    }

    @Test
    void aTextFileNamedBinIsNeitherZipNorPickle() throws IOException {
        Path p = tmp.resolve("pytorch_model.bin");
        Files.writeString(p, "hello\n");
        refused(p, "neither a torch.save zip checkpoint nor a legacy torch pickle", "convert it to safetensors");
    }

    private static int indexOf(byte[] a, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= a.length; i++) {
            for (int j = 0; j < pattern.length; j++) if (a[i + j] != pattern[j]) continue outer;
            return i;
        }
        return -1;
    }

    private static int lastIndexOf(byte[] a, byte[] pattern) {
        outer:
        for (int i = a.length - pattern.length; i >= 0; i--) {
            for (int j = 0; j < pattern.length; j++) if (a[i + j] != pattern[j]) continue outer;
            return i;
        }
        return -1;
    }
}
