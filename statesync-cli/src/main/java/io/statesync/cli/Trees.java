package io.statesync.cli;

import io.statesync.core.cid.Cid;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Directory trees as wholes: compare two by content, delete one. */
final class Trees {
    private Trees() {
    }

    /**
     * How {@code actual} differs from {@code expected}, one sentence per difference, empty when
     * both hold the same regular files with the same bytes. Files are read as streams and
     * compared by SHA-256, so trees far larger than memory compare fine.
     */
    static List<String> differences(Path expected, Path actual) throws IOException {
        Map<String, Path> want = files(expected);
        Map<String, Path> got = files(actual);
        List<String> out = new ArrayList<>();
        for (var e : want.entrySet()) {
            Path other = got.get(e.getKey());
            if (other == null) {
                out.add(e.getKey() + " is missing");
                continue;
            }
            long a = Files.size(e.getValue());
            long b = Files.size(other);
            if (a != b) {
                out.add(e.getKey() + " has " + b + " bytes, expected " + a);
            } else if (!Arrays.equals(sha256(e.getValue()), sha256(other))) {
                out.add(e.getKey() + " has different content");
            }
        }
        for (String extra : got.keySet()) {
            if (!want.containsKey(extra)) {
                out.add(extra + " is not in the original");
            }
        }
        return out;
    }

    /** The SHA-256 of a file's bytes, read as a stream. */
    static byte[] sha256(Path file) throws IOException {
        MessageDigest md = Cid.newDigest();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                md.update(buf, 0, n);
            }
        }
        return md.digest();
    }

    /** Hex form of {@link #sha256}, for messages. */
    static String sha256Hex(Path file) throws IOException {
        return HexFormat.of().formatHex(sha256(file));
    }


    /** Regular files under {@code root} by relative path with '/' separators. */
    private static Map<String, Path> files(Path root) throws IOException {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(root.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/"), p);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        return out;
    }
}
