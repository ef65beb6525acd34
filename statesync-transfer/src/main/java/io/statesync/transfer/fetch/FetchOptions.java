package io.statesync.transfer.fetch;

import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotAssembly;
import java.time.Duration;
import java.util.Objects;

/**
 * How a fetch behaves. Every value is honoured (the system this replaces ignored its retry and
 * deadline settings).
 *
 * @param parallelism chunk requests in flight over all sources
 * @param perSourceParallelism chunk requests in flight to any one source
 * @param maxTries passes per chunk: a pass fails when every usable source has failed the chunk
 *                 (with one source, a pass is one request); after this many failed passes the
 *                 fetch gives up, as the seed's "tries" over its URL list
 * @param retryWait pause before a chunk's next pass; doubles with each failed pass, and is also
 *                  the first back-off of a failing source
 * @param deadline the whole fetch, manifest included
 * @param chunkDeadline one chunk request, from connect to last byte: a stalled source is caught here
 * @param limits bounds the manifest must respect before anything is fetched
 * @param syncEvery bytes written into assembled files between batched fsyncs (see
 *                  {@code SnapshotAssembly}); a crash re-verifies at most this much
 * @param maxExpansion when files are assembled, the most they may be as a multiple of the bytes
 *                     of the snapshot's distinct chunks (a manifest repeating one chunk costs its
 *                     sender nothing and us the disk); 0 for no bound
 */
public record FetchOptions(int parallelism, int perSourceParallelism, int maxTries, Duration retryWait,
                           Duration deadline, Duration chunkDeadline, ManifestLimits limits, long syncEvery,
                           int maxExpansion) {

    /** 16 in flight, 6 per source, 5 tries, 500 ms retry wait, 1 h deadline, 30 s per chunk, sync every 128 MiB. */
    public static final FetchOptions DEFAULT = new FetchOptions(16, 6, 5, Duration.ofMillis(500),
            Duration.ofHours(1), Duration.ofSeconds(30), ManifestLimits.DEFAULT, 128L << 20,
            SnapshotAssembly.DEFAULT_MAX_EXPANSION);

    public FetchOptions {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be at least 1, got " + parallelism);
        }
        if (perSourceParallelism < 1) {
            throw new IllegalArgumentException("per-source parallelism must be at least 1, got " + perSourceParallelism);
        }
        if (maxTries < 1) {
            throw new IllegalArgumentException("max tries must be at least 1, got " + maxTries);
        }
        Objects.requireNonNull(retryWait, "retryWait");
        Objects.requireNonNull(limits, "limits");
        if (retryWait.isNegative()) {
            throw new IllegalArgumentException("retry wait must not be negative");
        }
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("deadline must be positive");
        }
        if (chunkDeadline.isNegative() || chunkDeadline.isZero()) {
            throw new IllegalArgumentException("chunk deadline must be positive");
        }
        if (maxExpansion < 0) {
            throw new IllegalArgumentException("expansion bound must be 0 (none) or more, got " + maxExpansion);
        }
        if (syncEvery < 1) {
            throw new IllegalArgumentException("sync interval must be at least 1 byte, got " + syncEvery);
        }
    }

    public FetchOptions withParallelism(int v) {
        return new FetchOptions(v, perSourceParallelism, maxTries, retryWait, deadline, chunkDeadline, limits, syncEvery, maxExpansion);
    }

    public FetchOptions withPerSourceParallelism(int v) {
        return new FetchOptions(parallelism, v, maxTries, retryWait, deadline, chunkDeadline, limits, syncEvery, maxExpansion);
    }

    public FetchOptions withMaxTries(int v) {
        return new FetchOptions(parallelism, perSourceParallelism, v, retryWait, deadline, chunkDeadline, limits, syncEvery, maxExpansion);
    }

    public FetchOptions withRetryWait(Duration v) {
        return new FetchOptions(parallelism, perSourceParallelism, maxTries, v, deadline, chunkDeadline, limits, syncEvery, maxExpansion);
    }

    public FetchOptions withDeadline(Duration v) {
        return new FetchOptions(parallelism, perSourceParallelism, maxTries, retryWait, v, chunkDeadline, limits, syncEvery, maxExpansion);
    }

    public FetchOptions withChunkDeadline(Duration v) {
        return new FetchOptions(parallelism, perSourceParallelism, maxTries, retryWait, deadline, v, limits, syncEvery, maxExpansion);
    }

    public FetchOptions withSyncEvery(long v) {
        return new FetchOptions(parallelism, perSourceParallelism, maxTries, retryWait, deadline, chunkDeadline, limits, v, maxExpansion);
    }

    public FetchOptions withMaxExpansion(int v) {
        return new FetchOptions(parallelism, perSourceParallelism, maxTries, retryWait, deadline, chunkDeadline, limits, syncEvery, v);
    }

    public FetchOptions withLimits(ManifestLimits v) {
        return new FetchOptions(parallelism, perSourceParallelism, maxTries, retryWait, deadline, chunkDeadline, v, syncEvery, maxExpansion);
    }
}
