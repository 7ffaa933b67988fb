package io.mergestream.format;

import io.mergestream.MergestreamException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses shard sizes such as {@code 5GB}, {@code 500M}, {@code 2GiB} or {@code 1048576}. */
public final class ShardSize {

    /** mergekit's and transformers' default: 5 GB. */
    public static final long DEFAULT = 5_000_000_000L;

    private static final Pattern FORMAT = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(?:([KMGT])(I?))?B?");

    private ShardSize() {}

    /** Decimal suffixes K/M/G/T (optionally followed by B) as Hugging Face counts; KiB/MiB/GiB/TiB binary. */
    public static long parse(String text) {
        Matcher m = FORMAT.matcher(text.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new MergestreamException("--out-shard-size: cannot read '" + text + "' (use e.g. 5GB, 500M, 2GiB or a byte count)");
        }
        int power = m.group(2) == null ? 0 : " KMGT".indexOf(m.group(2).charAt(0));
        BigDecimal base = BigDecimal.valueOf("I".equals(m.group(3)) ? 1024 : 1000);
        // Exact decimal arithmetic: in doubles 2.01 * 1000 is 2009.999..., which truncated to 2009 bytes.
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(base.pow(power)).setScale(0, RoundingMode.FLOOR);
        if (bytes.compareTo(BigDecimal.ONE) < 0 || bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE / 2)) > 0) {
            throw new MergestreamException("--out-shard-size: " + text + " is out of range");
        }
        return bytes.longValueExact();
    }
}
