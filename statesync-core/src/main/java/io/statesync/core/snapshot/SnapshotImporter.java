package io.statesync.core.snapshot;

import io.statesync.core.chunking.Chunker;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.BlobWriter;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Turns files into a snapshot: each file is cut into chunks (fixed-size or content-defined, see
 * {@link Chunking}) stored as raw blobs, and
 * a manifest listing them is stored as a dag-json blob whose CID is the snapshot's root. The
 * same tree always yields the same root (paths are sorted), and unchanged chunks of a changed
 * tree keep their CIDs, which is what makes delta fetches cheap.
 */
public final class SnapshotImporter {
    /**
     * 1 MiB: the largest size that keeps every chunk a valid IPFS block, and the fastest in the
     * chunk-size benchmark (fewer requests and fsyncs per byte); see ARCHITECTURE.md.
     */
    public static final int DEFAULT_CHUNK_SIZE = 1 << 20;

    private SnapshotImporter() {
    }

    /**
     * Imports {@code inputs} as one snapshot. A single directory contributes its contents at the
     * snapshot root; otherwise each input appears under its own file name (a directory with its
     * tree below that name). Symbolic links and special files are refused.
     */
    public static SnapshotRef importPaths(ContentStore store, List<Path> inputs, int chunkSize,
                                          Map<String, String> metadata) throws IOException, ManifestException {
        checkChunkSize(chunkSize);
        return importPaths(store, inputs, new Chunking.Fixed(chunkSize), metadata);
    }

    /** {@link #importPaths(ContentStore, List, int, Map)} with any chunking. */
    public static SnapshotRef importPaths(ContentStore store, List<Path> inputs, Chunking chunking,
                                          Map<String, String> metadata) throws IOException, ManifestException {
        return importPaths(store, inputs, chunking, metadata, null);
    }

    /**
     * {@link #importPaths(ContentStore, List, Chunking, Map)}, reusing what {@code cache} (if not
     * null) remembers of files the previous import already cut, and remembering this import's.
     */
    public static SnapshotRef importPaths(ContentStore store, List<Path> inputs, Chunking chunking,
                                          Map<String, String> metadata, ImportCache cache)
            throws IOException, ManifestException {
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException("nothing to import: no paths given");
        }
        List<Source> sources = new ArrayList<>();
        if (inputs.size() == 1 && Files.isDirectory(inputs.get(0), LinkOption.NOFOLLOW_LINKS)) {
            collect(inputs.get(0), "", sources);
        } else {
            for (Path in : inputs) {
                String name = in.toAbsolutePath().normalize().getFileName().toString();
                if (Files.isDirectory(in, LinkOption.NOFOLLOW_LINKS)) {
                    collect(in, name + "/", sources);
                } else {
                    sources.add(new Source(checkRegular(in), name));
                }
            }
        }
        sources.sort(Comparator.comparing(Source::relative));
        List<FileEntry> files = new ArrayList<>(sources.size());
        try {
            for (Source s : sources) {
                files.add(cache == null ? importFile(store, s.file(), s.relative(), chunking)
                        : importFile(store, s.file(), s.relative(), chunking, cache));
            }
        } finally {
            if (cache != null) {
                cache.importEnded();
            }
        }
        Manifest manifest = Manifest.of(chunking, metadata, files);
        return storeManifest(store, manifest);
    }

    /** Validates and stores a manifest whose chunks are already in the store. */
    public static SnapshotRef storeManifest(ContentStore store, Manifest manifest) throws IOException, ManifestException {
        ManifestValidator.validate(manifest, ManifestLimits.DEFAULT);
        // Over 1 MiB the manifest is stored as raw parts under a small root (ManifestBlocks),
        // parts first, so a root in the store always has its parts beside it.
        ManifestBlocks.Encoded blocks = ManifestBlocks.encode(manifest);
        for (byte[] part : blocks.parts()) {
            store.put(Codec.RAW, part);
        }
        Cid root = store.put(Codec.DAG_JSON, blocks.root());
        return new SnapshotRef(root, manifest);
    }

    /** Reads and validates a manifest held in the store. */
    public static Manifest loadManifest(ContentStore store, Cid root, ManifestLimits limits) throws IOException, ManifestException {
        if (root.codec() != Codec.DAG_JSON) {
            throw new ManifestException(root + " is a raw block, not a snapshot manifest (dag-json)");
        }
        ManifestBlocks.Root r = ManifestBlocks.decodeRoot(store.readAll(root), limits);
        if (r instanceof ManifestBlocks.Whole w) {
            return w.manifest();
        }
        ManifestBlocks.Split split = (ManifestBlocks.Split) r;
        List<byte[]> parts = new ArrayList<>(split.parts().size());
        for (Cid part : split.parts()) {
            byte[] bytes = store.readAll(part);
            if (!Cid.compute(Codec.RAW, bytes).equals(part)) {
                throw new IOException("manifest part " + part + " of " + root + " no longer matches its CID in the store");
            }
            parts.add(bytes);
        }
        return ManifestBlocks.join(split, parts, limits);
    }

    private static FileEntry importFile(ContentStore store, Path file, String relative, Chunking chunking,
                                        ImportCache cache) throws IOException {
        int mode = modeOf(file);
        FileEntry known = cache.reuse(store, file, relative, chunking, mode);
        if (known != null) {
            return known;
        }
        var before = ImportCache.identity(file);
        FileEntry entry = importFile(store, file, relative, chunking);
        cache.remember(before, file, chunking, entry);
        return entry;
    }

    /** Cuts one file into chunks in the store. */
    public static FileEntry importFile(ContentStore store, Path file, String relative, Chunking chunking) throws IOException {
        long size = Files.size(file);
        FileEntry entry;
        try (InputStream in = Files.newInputStream(file)) {
            entry = importStream(store, in, relative, chunking, modeOf(file));
        }
        if (entry.size() != size) {
            throw new IOException(file + " changed size while being imported (" + size + " then " + entry.size() + " bytes)");
        }
        return entry;
    }

    /**
     * Cuts a stream, read to its end, into chunks in the store: a file entry of whatever size
     * the stream had. The caller closes the stream.
     */
    public static FileEntry importStream(ContentStore store, InputStream in, String relative, int chunkSize, int mode)
            throws IOException {
        checkChunkSize(chunkSize);
        return importStream(store, in, relative, new Chunking.Fixed(chunkSize), mode);
    }

    /** {@link #importStream(ContentStore, InputStream, String, int, int)} with any chunking. */
    public static FileEntry importStream(ContentStore store, InputStream in, String relative, Chunking chunking, int mode)
            throws IOException {
        List<Cid> chunks = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        java.security.MessageDigest digest = Cid.newDigest();
        long seen = Chunker.cut(chunking, in, (buf, off, len) -> {
            // A chunk the store already holds (an unchanged part of a state saved before) is
            // neither written nor synced again: only new chunks cost a write.
            digest.update(buf, off, len);
            Cid cid = Cid.of(Codec.RAW, digest.digest());
            if (!store.has(cid)) {
                try (BlobWriter w = store.writer(cid)) {
                    w.write(buf, off, len);
                    w.commit();
                }
            }
            chunks.add(cid);
            lengths.add(len);
        });
        return new FileEntry(relative, seen, mode, chunks, chunking instanceof Chunking.Fixed ? List.of() : lengths);
    }

    /** Fails before any chunk is stored, rather than after a whole tree has been cut wrongly. */
    private static void checkChunkSize(int chunkSize) {
        if (chunkSize < 1 || chunkSize > ManifestLimits.DEFAULT.maxChunkSize()) {
            throw new IllegalArgumentException("chunk size " + chunkSize + " is outside [1, "
                    + ManifestLimits.DEFAULT.maxChunkSize() + "]");
        }
    }

    private static void collect(Path dir, String prefix, List<Source> out) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                String rel = dir.relativize(p).toString().replace(p.getFileSystem().getSeparator(), "/");
                out.add(new Source(checkRegular(p), prefix + rel));
            }
        }
    }

    private static Path checkRegular(Path p) throws IOException {
        if (Files.isSymbolicLink(p)) {
            throw new IOException("refusing to import symbolic link " + p);
        }
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(Files.exists(p) ? p + " is not a regular file" : "no such file: " + p);
        }
        return p;
    }

    static int modeOf(Path file) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            int mode = 0;
            for (PosixFilePermission perm : perms) {
                mode |= 1 << (8 - perm.ordinal());
            }
            return mode;
        } catch (UnsupportedOperationException | IOException e) {
            return 0644;
        }
    }

    private record Source(Path file, String relative) {
    }
}
