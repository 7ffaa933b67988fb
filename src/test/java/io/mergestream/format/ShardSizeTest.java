package io.mergestream.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.MergestreamException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ShardSizeTest {

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({
        "5GB, 5000000000",
        "5G, 5000000000",
        "5gb, 5000000000",
        "500M, 500000000",
        "500MB, 500000000",
        "2GiB, 2147483648",
        "2gib, 2147483648",
        "512KiB, 524288",
        "1TB, 1000000000000",
        "1048576, 1048576",
        "' 1 GB ', 1000000000",
        "1.5GB, 1500000000",
        "4.35K, 4350",
        "0.1K, 100",
        "2.3GB, 2300000000",
        "2.01K, 2010",
        "16.06KB, 16060",
        "8.12M, 8120000",
    })
    void parses(String text, long bytes) {
        assertEquals(bytes, ShardSize.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "GB", "abc", "-5GB", "5 GBs", "5XB", "1e9", "0", "0.1", "5,000", "9999999999TB"})
    void rejects(String text) {
        MergestreamException e = assertThrows(MergestreamException.class, () -> ShardSize.parse(text));
        assertTrue(e.getMessage().startsWith("--out-shard-size: "), e.getMessage());
        assertTrue(e.getMessage().contains(text.trim().isEmpty() ? "''" : text), e.getMessage());
    }
}
