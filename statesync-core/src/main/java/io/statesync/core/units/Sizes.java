package io.statesync.core.units;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte sizes as people type them, in binary units ({@code 4096}, {@code 256KiB}, {@code 8MiB},
 * {@code 1GiB}), and sizes and counts as the CLI prints them.
 */
public final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(\\d{1,18})\\s*([a-z]*)");
    private static final double MIB = 1024.0 * 1024.0;

    private Sizes() {
    }

    /**
     * Parses {@code text}. Units are binary; {@code K}, {@code M}, {@code G}, {@code T} are
     * short for KiB, MiB, GiB, TiB. Decimal units (MB) are refused rather than guessed.
     *
     * @throws IllegalArgumentException with a message that shows the accepted forms
     */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw invalid(text);
        }
        int shift = switch (m.group(2)) {
            case "", "b" -> 0;
            case "k", "kib" -> 10;
            case "m", "mib" -> 20;
            case "g", "gib" -> 30;
            case "t", "tib" -> 40;
            default -> throw invalid(text);
        };
        long n = Long.parseLong(m.group(1));
        if (shift > 0 && n > Long.MAX_VALUE >> shift) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        return n << shift;
    }

    /** {@code 12.3 MiB}: the unit progress and summaries use throughout. */
    public static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / MIB);
    }

    /** {@code 1 chunk}, {@code 3 chunks}: a count with its noun, for summaries. */
    public static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    /** Mebibytes as a number, for rates and totals. */
    public static double toMib(double bytes) {
        return bytes / MIB;
    }

    private static IllegalArgumentException invalid(String text) {
        return new IllegalArgumentException("'" + text + "' is not a size (use bytes or a binary unit, e.g. 4096, 256KiB, 8MiB, 1GiB)");
    }
}
