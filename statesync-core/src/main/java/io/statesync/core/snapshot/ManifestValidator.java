package io.statesync.core.snapshot;

import io.statesync.core.chunking.Chunking;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/** The rules a manifest must satisfy before we fetch or write anything it names. */
public final class ManifestValidator {
    private ManifestValidator() {
    }

    /**
     * Checks paths (relative, normalized, no duplicates, no file under another file), sizes
     * against chunk counts, modes and the limits.
     *
     * @throws ManifestException naming the first offending entry
     */
    public static void validate(Manifest m, ManifestLimits limits) throws ManifestException {
        if (m.version() != Manifest.versionFor(m.chunking())) {
            throw new ManifestException("manifest version " + m.version() + " does not match its chunking (version "
                    + Manifest.versionFor(m.chunking()) + ")");
        }
        if (m.chunkSize() < 1 || m.chunkSize() > limits.maxChunkSize()) {
            throw new ManifestException("chunk size " + m.chunkSize() + " is outside [1, " + limits.maxChunkSize() + "]");
        }
        if (m.files().size() > limits.maxFiles()) {
            throw new ManifestException("manifest has " + m.files().size() + " files, over the limit of " + limits.maxFiles());
        }
        Set<String> files = new HashSet<>();
        Set<String> dirs = new HashSet<>();
        long totalBytes = 0;
        long totalChunks = 0;
        for (FileEntry f : m.files()) {
            String path = f.path();
            checkPath(path, limits);
            if (!files.add(path)) {
                throw new ManifestException("duplicate path \"" + path + "\"");
            }
            if (dirs.contains(path)) {
                throw new ManifestException("path \"" + path + "\" is both a file and a directory");
            }
            for (int i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
                String dir = path.substring(0, i);
                if (files.contains(dir)) {
                    throw new ManifestException("path \"" + path + "\" lies under the file \"" + dir + "\"");
                }
                dirs.add(dir);
            }
            if (f.size() < 0) {
                throw new ManifestException("\"" + path + "\": negative size " + f.size());
            }
            if ((f.mode() & ~0777) != 0) {
                throw new ManifestException("\"" + path + "\": mode 0" + Integer.toOctalString(f.mode())
                        + " has bits beyond rwx permissions (setuid/setgid/sticky are not allowed)");
            }
            long expectedChunks = checkChunks(m, f);
            totalBytes += f.size();
            totalChunks += expectedChunks;
            if (totalBytes > limits.maxTotalBytes() || totalBytes < 0) {
                throw new ManifestException("\"" + path + "\": total size passes the limit of " + limits.maxTotalBytes() + " bytes");
            }
            if (totalChunks > limits.maxChunks()) {
                throw new ManifestException("\"" + path + "\": chunk count passes the limit of " + limits.maxChunks());
            }
        }
    }

    /** The chunk count of {@code f}, once its chunks are shown to cover exactly its size. */
    private static long checkChunks(Manifest m, FileEntry f) throws ManifestException {
        String path = f.path();
        if (m.chunking() instanceof Chunking.Fixed) {
            long expectedChunks = Manifest.chunksFor(f.size(), m.chunkSize());
            if (f.chunks().size() != expectedChunks || !f.lengths().isEmpty()) {
                throw new ManifestException("\"" + path + "\": size " + f.size() + " needs " + expectedChunks
                        + " chunks of " + m.chunkSize() + " bytes, the manifest lists " + f.chunks().size()
                        + (f.lengths().isEmpty() ? "" : " and lengths a fixed-size manifest does not have"));
            }
            return expectedChunks;
        }
        if (f.lengths().size() != f.chunks().size()) {
            throw new ManifestException("\"" + path + "\": " + f.chunks().size() + " chunks but " + f.lengths().size() + " lengths");
        }
        long sum = 0;
        for (int i = 0; i < f.lengths().size(); i++) {
            int len = f.lengths().get(i);
            if (len < 1 || len > m.chunkSize()) {
                throw new ManifestException("\"" + path + "\": chunk " + i + " is " + len + " bytes, outside [1, " + m.chunkSize() + "]");
            }
            sum += len;
        }
        if (sum != f.size()) {
            throw new ManifestException("\"" + path + "\": chunk lengths add up to " + sum + " bytes, the file is " + f.size());
        }
        return f.chunks().size();
    }

    private static void checkPath(String path, ManifestLimits limits) throws ManifestException {
        if (path.isEmpty()) {
            throw new ManifestException("empty path");
        }
        if (path.getBytes(StandardCharsets.UTF_8).length > limits.maxPathLength()) {
            throw new ManifestException("path \"" + shorten(path) + "\" is longer than " + limits.maxPathLength() + " bytes");
        }
        if (path.startsWith("/")) {
            throw new ManifestException("absolute path \"" + path + "\"");
        }
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                throw new ManifestException("path \"" + shorten(path) + "\" contains a control character or backslash");
            }
        }
        if (path.length() >= 2 && path.charAt(1) == ':') {
            throw new ManifestException("path \"" + path + "\" looks like a drive-letter path");
        }
        for (String seg : path.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
                throw new ManifestException("path \"" + path + "\" is not normalized (empty, '.' or '..' segment)");
            }
        }
    }

    private static String shorten(String s) {
        String printable = s.replaceAll("\\p{Cntrl}", "?");
        return printable.length() > 80 ? printable.substring(0, 80) + "..." : printable;
    }
}
