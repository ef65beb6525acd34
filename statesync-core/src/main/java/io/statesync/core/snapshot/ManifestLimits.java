package io.statesync.core.snapshot;

/**
 * Bounds a manifest must respect before anything it names is fetched, so a hostile peer cannot
 * make us allocate, download or write without limit.
 *
 * @param maxManifestBytes size of the encoded manifest
 * @param maxFiles number of files
 * @param maxChunks number of chunk references over all files
 * @param maxTotalBytes sum of file sizes
 * @param maxChunkSize largest allowed chunk size (1 MiB keeps chunks valid IPFS blocks)
 * @param maxPathLength longest relative path, in UTF-8 bytes
 */
public record ManifestLimits(
        long maxManifestBytes, int maxFiles, long maxChunks, long maxTotalBytes, int maxChunkSize, int maxPathLength) {

    /**
     * The defaults: 24 MiB manifests, 1M files, 16M chunks, 16 TiB, 1 MiB chunks. The manifest
     * bound is the one that binds: about 370,000 chunk references, so 23 GiB of state at 64 KiB
     * chunks, 92 GiB at 256 KiB and 370 GiB at 1 MiB. It is this low so that a fetch of the
     * largest allowed manifest fits in a 256 MiB heap ({@code LargestManifestTest}); at 64 MiB
     * (980,000 chunks) such a fetch ran out of memory.
     */
    public static final ManifestLimits DEFAULT =
            new ManifestLimits(24L << 20, 1_000_000, 16_000_000L, 16L << 40, 1 << 20, 4096);

    public ManifestLimits withMaxManifestBytes(long v) {
        return new ManifestLimits(v, maxFiles, maxChunks, maxTotalBytes, maxChunkSize, maxPathLength);
    }

    public ManifestLimits withMaxFiles(int v) {
        return new ManifestLimits(maxManifestBytes, v, maxChunks, maxTotalBytes, maxChunkSize, maxPathLength);
    }

    public ManifestLimits withMaxChunks(long v) {
        return new ManifestLimits(maxManifestBytes, maxFiles, v, maxTotalBytes, maxChunkSize, maxPathLength);
    }

    public ManifestLimits withMaxTotalBytes(long v) {
        return new ManifestLimits(maxManifestBytes, maxFiles, maxChunks, v, maxChunkSize, maxPathLength);
    }
}
