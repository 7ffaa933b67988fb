package io.mergestream.cli;

import java.util.Locale;

/** Human-readable sizes and counts for terminal output (decimal units, as disk and model sizes are quoted). */
final class Bytes {
    private Bytes() {}

    static String human(long bytes) {
        return scaled(bytes, "B");
    }

    static String count(long n) {
        return scaled(n, "").trim();
    }

    private static String scaled(double v, String unit) {
        String[] prefixes = {"", "K", "M", "G", "T", "P"};
        int i = 0;
        while (Math.abs(v) >= 1000 && i < prefixes.length - 1) {
            v /= 1000;
            i++;
        }
        return i == 0 ? String.format(Locale.ROOT, "%.0f %s", v, unit)
                : String.format(Locale.ROOT, "%.2f %s%s", v, prefixes[i], unit);
    }
}
