package io.mergestream;

/**
 * Tensor names, metadata keys and paths come from files anyone may have written: a safetensors header may
 * name a tensor with any JSON string, newlines and terminal escapes included. Every message and every line
 * of text output shows such a name through {@link #printable}, so that it stays one line and cannot drive
 * the terminal. (JSON output needs no help: its writer escapes control characters itself.)
 */
public final class Names {

    private Names() {}

    /**
     * {@code s} with control characters (C0, DEL, C1), line and paragraph separators, bidirectional
     * overrides and isolates (which reorder what a terminal shows) and unpaired surrogates written as Java
     * escapes ({@code \n}, {@code \t}, {@code \r}, else {@code \}{@code uXXXX}); everything else as it is.
     * Backslashes are left alone: names with them are rare and paths on Windows are full of them.
     */
    public static String printable(String s) {
        if (s == null) return "null";
        int i = 0;
        while (i < s.length() && !needsEscape(s, i)) i++;
        if (i == s.length()) return s;
        StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!needsEscape(s, i)) {
                b.append(c);
                continue;
            }
            switch (c) {
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                default -> b.append("\\u").append(HEX[(c >> 12) & 15]).append(HEX[(c >> 8) & 15])
                        .append(HEX[(c >> 4) & 15]).append(HEX[c & 15]);
            }
        }
        return b.toString();
    }

    /** As {@link #printable(String)} for any object's {@code toString()} (a Path, say). */
    public static String printable(Object o) {
        return printable(o == null ? null : o.toString());
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static boolean needsEscape(String s, int i) {
        char c = s.charAt(i);
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
        if (c == '\u2028' || c == '\u2029') return true;
        if ((c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') || c == '\u200e' || c == '\u200f'
                || c == '\u061c') {
            return true;
        }
        if (Character.isHighSurrogate(c)) return i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1));
        if (Character.isLowSurrogate(c)) return i == 0 || !Character.isHighSurrogate(s.charAt(i - 1));
        return false;
    }
}
