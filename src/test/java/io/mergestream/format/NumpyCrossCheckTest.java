package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mergestream.format.TestCheckpoints.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Optional: parses a written file with a hand-written numpy reader (no Java code involved in reading) and
 * compares names, dtypes, shapes and bytes. Skipped when python3 with numpy is not installed.
 */
class NumpyCrossCheckTest {

    private static final String READER = """
            import json, struct, sys, hashlib
            import numpy as np
            raw = open(sys.argv[1], 'rb').read()
            n = struct.unpack('<Q', raw[:8])[0]
            assert n % 8 == 0
            header = json.loads(raw[8:8 + n].decode('utf-8'))
            assert list(header)[0] == '__metadata__' and header['__metadata__'] == {'format': 'pt'}
            data = raw[8 + n:]
            np_types = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'BF16': '<u2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2',
                        'I8': 'i1', 'U64': '<u8', 'U32': '<u4', 'U16': '<u2', 'U8': 'u1', 'BOOL': 'u1',
                        'F8_E4M3': 'u1', 'F8_E5M2': 'u1'}
            covered = 0
            for name, t in header.items():
                if name == '__metadata__':
                    continue
                b, e = t['data_offsets']
                covered += e - b
                a = np.frombuffer(data[b:e], dtype=np.dtype(np_types[t['dtype']])).reshape(t['shape'])
                print(name, t['dtype'], list(a.shape), hashlib.sha256(a.tobytes()).hexdigest())
            assert covered == len(data)
            """;

    @TempDir
    Path tmp;

    @Test
    void numpyReadsWhatWeWrite() throws IOException, InterruptedException, NoSuchAlgorithmException {
        Process probe;
        try {
            probe = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
        } catch (IOException e) {
            probe = null;
        }
        assumeTrue(probe != null && probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0, "python3 with numpy not available");

        List<Tensor> ts = RoundTripTest.allDtypes();
        Path dir = Files.createDirectory(tmp.resolve("m"));
        TestCheckpoints.write(dir, ts, 1 << 20);
        Path script = Files.writeString(tmp.resolve("read.py"), READER);
        Process p = new ProcessBuilder("python3", script.toString(), dir.resolve(CheckpointFiles.SINGLE_FILE).toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(true, p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);

        TreeSet<String> expected = new TreeSet<>();
        for (Tensor t : ts) {
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(t.bytes()));
            expected.add(t.name() + " " + t.dtype().headerName() + " " + java.util.Arrays.toString(t.shape()) + " " + hash);
        }
        assertEquals(expected, new TreeSet<>(out.lines().toList()));
    }
}
