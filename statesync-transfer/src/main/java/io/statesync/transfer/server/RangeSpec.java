package io.statesync.transfer.server;

/**
 * What a {@code Range} header asks of a blob of known size (RFC 9110 §14). Only a single byte
 * range is honoured; anything else the RFC lets a server ignore (other units, several ranges,
 * bad syntax) is served whole.
 */
sealed interface RangeSpec {

    /** Serve all of it, 200. */
    record Whole() implements RangeSpec {
    }

    /** Serve bytes {@code first..last} inclusive, 206. */
    record Slice(long first, long last) implements RangeSpec {
        long length() {
            return last - first + 1;
        }
    }

    /** A well-formed range no byte of the blob falls in, 416. */
    record Unsatisfiable() implements RangeSpec {
    }

    /** Interprets {@code header} (null when absent) against a blob of {@code size} bytes. */
    static RangeSpec parse(String header, long size) {
        if (header == null) {
            return new Whole();
        }
        String value = header.strip();
        if (!value.regionMatches(true, 0, "bytes=", 0, 6)) {
            return new Whole();
        }
        String spec = value.substring(6).strip();
        if (spec.indexOf(',') >= 0) {
            // Several ranges would need multipart/byteranges; the whole blob is a valid answer.
            return new Whole();
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Whole();
        }
        long first = digits(spec.substring(0, dash));
        long last = digits(spec.substring(dash + 1));
        if (dash == 0) {
            // bytes=-n: the last n bytes.
            if (last < 0) {
                return new Whole();
            }
            if (last == 0 || size == 0) {
                return new Unsatisfiable();
            }
            return new Slice(Math.max(0, size - last), size - 1);
        }
        if (first < 0 || (last < 0 && dash + 1 < spec.length())) {
            return new Whole();
        }
        if (last >= 0 && last < first) {
            return new Whole();
        }
        if (first >= size) {
            return new Unsatisfiable();
        }
        long end = last < 0 ? size - 1 : Math.min(last, size - 1);
        return new Slice(first, end);
    }

    /**
     * A non-negative decimal, saturating at {@code Long.MAX_VALUE} (a position that large is
     * still a well-formed range, just beyond any blob); -1 if empty or not all digits.
     */
    private static long digits(String s) {
        if (s.isEmpty()) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            int d = c - '0';
            v = v > (Long.MAX_VALUE - d) / 10 ? Long.MAX_VALUE : v * 10 + d;
        }
        return v;
    }
}
