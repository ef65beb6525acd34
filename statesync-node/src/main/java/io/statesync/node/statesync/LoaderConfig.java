package io.statesync.node.statesync;

import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.tls.Tls;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How the state loader behaves. Every value is used (the seed ignored its tries, retry wait and
 * deadline and ran on hard-coded constants).
 *
 * @param maxTries tries per thread of a task: each try locates the snapshot again (pointers on
 *                 static storages, peers) and the chunk fetch gives each chunk this many passes
 *                 over its sources; a task that uses them up fails and backs off, it is never cycled
 * @param retryWait pause between tries (the chunk fetch doubles it per pass)
 * @param deadline locating and fetching the state of all threads of a task, from its claim; the
 *                 installs that follow are bounded by the repository, not by this
 * @param staticStorages base URLs of static servers over a store directory with {@code blocks/}
 *                       pointers; they are sources of every fetch
 * @param pendingCapacity queued tasks kept; older ones are dropped from the back
 * @param failedBackoff a failed address is refused for this long
 * @param fetch the chunk fetcher's other settings (parallelism, per-chunk deadline, manifest
 *              limits); its tries, retry wait and deadline are replaced by the values above
 * @param tls trust and client certificate for https sources and peers; null for the JDK's defaults
 */
public record LoaderConfig(int maxTries, Duration retryWait, Duration deadline, List<URI> staticStorages,
                           int pendingCapacity, Duration failedBackoff, FetchOptions fetch, Tls tls) {

    /** The seed's constants: 2 tries, 2 s retry wait, 1 h deadline, 5 pending, 10 s back-off; no static storages. */
    public static final LoaderConfig DEFAULT = new LoaderConfig(2, Duration.ofSeconds(2), Duration.ofHours(1),
            List.of(), 5, Duration.ofSeconds(10), FetchOptions.DEFAULT, null);

    public LoaderConfig {
        if (maxTries < 1) {
            throw new IllegalArgumentException("max tries must be at least 1, got " + maxTries);
        }
        Objects.requireNonNull(retryWait, "retryWait");
        Objects.requireNonNull(deadline, "deadline");
        Objects.requireNonNull(failedBackoff, "failedBackoff");
        Objects.requireNonNull(fetch, "fetch");
        if (retryWait.isNegative()) {
            throw new IllegalArgumentException("retry wait must not be negative, got " + retryWait);
        }
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("deadline must be positive, got " + deadline);
        }
        if (failedBackoff.isNegative()) {
            throw new IllegalArgumentException("failed back-off must not be negative, got " + failedBackoff);
        }
        if (pendingCapacity < 1) {
            throw new IllegalArgumentException("pending capacity must be at least 1, got " + pendingCapacity);
        }
        staticStorages = List.copyOf(staticStorages);
        for (URI u : staticStorages) {
            new Source(u); // fails early with a message naming the bad URL
        }
    }

    public LoaderConfig withMaxTries(int v) {
        return new LoaderConfig(v, retryWait, deadline, staticStorages, pendingCapacity, failedBackoff, fetch, tls);
    }

    public LoaderConfig withRetryWait(Duration v) {
        return new LoaderConfig(maxTries, v, deadline, staticStorages, pendingCapacity, failedBackoff, fetch, tls);
    }

    public LoaderConfig withDeadline(Duration v) {
        return new LoaderConfig(maxTries, retryWait, v, staticStorages, pendingCapacity, failedBackoff, fetch, tls);
    }

    public LoaderConfig withStaticStorages(List<URI> v) {
        return new LoaderConfig(maxTries, retryWait, deadline, v, pendingCapacity, failedBackoff, fetch, tls);
    }

    public LoaderConfig withPendingCapacity(int v) {
        return new LoaderConfig(maxTries, retryWait, deadline, staticStorages, v, failedBackoff, fetch, tls);
    }

    public LoaderConfig withFailedBackoff(Duration v) {
        return new LoaderConfig(maxTries, retryWait, deadline, staticStorages, pendingCapacity, v, fetch, tls);
    }

    public LoaderConfig withFetch(FetchOptions v) {
        return new LoaderConfig(maxTries, retryWait, deadline, staticStorages, pendingCapacity, failedBackoff, v, tls);
    }

    /** Reaches https sources and peers with {@code v}'s trust and certificate (null: the JDK's defaults). */
    public LoaderConfig withTls(Tls v) {
        return new LoaderConfig(maxTries, retryWait, deadline, staticStorages, pendingCapacity, failedBackoff, fetch, v);
    }

    /** The fetch options of one thread's chunk fetch with {@code remaining} left to the deadline. */
    FetchOptions fetchOptions(Duration remaining) {
        return fetch.withMaxTries(maxTries).withRetryWait(retryWait).withDeadline(remaining);
    }
}
