package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestBlocks;
import io.statesync.core.snapshot.ManifestException;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.store.BlobNotFoundException;
import io.statesync.core.store.ContentStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gets and checks a snapshot's manifest: the root block and, for a manifest over 1 MiB, its
 * parts ({@link ManifestBlocks}); each block from the store when it holds an intact copy, else
 * from the sources in score order, verified against its CID (a source serving other bytes is
 * banned), with the fetch's tries, retry waits and deadline. Nothing is stored until the whole
 * manifest has decoded within the limits.
 */
final class ManifestFetch {
    private static final Logger log = LoggerFactory.getLogger(ManifestFetch.class);

    /** What the fetch lends the manifest step: its sources (each call takes the fetch's lock). */
    interface Sources {
        /** Usable sources, best first. */
        List<Peer> ranked();

        /** Whether the sources are a fixed list (else more may appear). */
        boolean fixed();

        boolean isEmpty();

        int size();

        boolean allBanned();

        /** Asks the resolver again. */
        void refresh();

        void succeeded(Peer p, long bytes, long nanos);

        void failed(Peer p, String why);

        void ban(Peer p, String why);

        List<SourceStats> stats();
    }

    private final HttpBlobClient client;
    private final ContentStore store;
    private final Cid root;
    private final FetchOptions options;
    private final long deadlineNanos;
    private final Sources sources;

    ManifestFetch(HttpBlobClient client, ContentStore store, Cid root, FetchOptions options, long deadlineNanos,
                  Sources sources) {
        this.client = client;
        this.store = store;
        this.root = root;
        this.options = options;
        this.deadlineNanos = deadlineNanos;
        this.sources = sources;
    }

    /**
     * The manifest: its root block, and for a manifest over 1 MiB the parts the root lists
     * ({@link ManifestBlocks}), each from the store if it holds an intact copy, else from the
     * sources, verified against its CID. Blocks are stored once the whole manifest has decoded.
     */
    Manifest fetch() throws FetchException, InterruptedException {
        ManifestLimits limits = options.limits();
        byte[] rootBytes = localBlock(root);
        if (rootBytes == null) {
            rootBytes = fetchBlock(root, Math.min(limits.maxManifestBytes(), Integer.MAX_VALUE - 8));
        }
        try {
            ManifestBlocks.Root r = ManifestBlocks.decodeRoot(rootBytes, limits);
            Manifest m;
            List<byte[]> parts = List.of();
            if (r instanceof ManifestBlocks.Whole w) {
                m = w.manifest();
            } else {
                ManifestBlocks.Split split = (ManifestBlocks.Split) r;
                parts = new ArrayList<>(split.parts().size());
                for (int i = 0; i < split.parts().size(); i++) {
                    Cid part = split.parts().get(i);
                    byte[] bytes = localBlock(part);
                    parts.add(bytes != null ? bytes : fetchBlock(part, ManifestBlocks.partLength(split, i)));
                }
                m = ManifestBlocks.join(split, parts, limits);
            }
            for (byte[] part : parts) {
                store.put(Codec.RAW, part);
            }
            store.put(Codec.DAG_JSON, rootBytes);
            return m;
        } catch (ManifestException e) {
            // The bytes are the root's: every source would serve this same invalid manifest.
            throw manifestFailure(FetchException.Reason.MANIFEST, "snapshot " + root + " has an invalid manifest: " + e.getMessage(), e);
        } catch (IOException e) {
            throw manifestFailure(FetchException.Reason.LOCAL_IO, "cannot store manifest " + root + " in the local store: "
                    + FetchRun.describe(e), e);
        }
    }

    /** One block of the manifest from the sources, in score order, verified against {@code cid}. */
    private byte[] fetchBlock(Cid cid, long maxBytes) throws FetchException, InterruptedException {
        String lastError = "no source answered";
        for (int attempt = 1; attempt <= options.maxTries(); attempt++) {
            List<Peer> ranked = sources.ranked();
            if (ranked.isEmpty()) {
                if (sources.fixed()) {
                    throw manifestFailure(FetchException.Reason.SOURCES_EXHAUSTED, sources.isEmpty() ? "no sources given for snapshot " + root
                            : "every source of snapshot " + root + " is banned", null);
                }
                // Sources may still appear: wait for them without spending a try.
                lastError = "no source known yet";
                checkDeadline(lastError);
                sleepUntil(Math.min(System.nanoTime() + FetchRun.TICK_NANOS, deadlineNanos));
                sources.refresh();
                attempt--;
                continue;
            }
            for (Peer p : ranked) {
                checkDeadline(lastError);
                long t0 = System.nanoTime();
                long reqDeadline = Math.min(t0 + options.chunkDeadline().toNanos(), deadlineNanos);
                ByteArrayOutputStream body = new ByteArrayOutputStream();
                try {
                    client.get(p.source, cid.toString(), reqDeadline, maxBytes, new HttpBlobClient.BodySink() {
                        @Override
                        public void begin(long contentLength) {
                        }

                        @Override
                        public void accept(byte[] buf, int off, int len) {
                            body.write(buf, off, len);
                        }
                    });
                    byte[] bytes = body.toByteArray();
                    if (!Cid.compute(cid.codec(), bytes).equals(cid)) {
                        sources.ban(p, "served a manifest block that does not match " + cid);
                        lastError = p.source + " served bytes not matching " + cid;
                        continue;
                    }
                    sources.succeeded(p, bytes.length, System.nanoTime() - t0);
                    return bytes;
                } catch (InterruptedIOException e) {
                    if (Thread.currentThread().isInterrupted()) {
                        throw new InterruptedException("fetch cancelled");
                    }
                    lastError = p.source + ": " + FetchRun.describe(e);
                    sources.failed(p, lastError);
                } catch (IOException e) {
                    lastError = p.source + ": " + FetchRun.describe(e);
                    sources.failed(p, lastError);
                }
            }
            if (sources.fixed() && sources.allBanned()) {
                break;
            }
            if (attempt < options.maxTries()) {
                sources.refresh();
                sleepUntil(Math.min(System.nanoTime() + FetchRun.retryWaitNanos(options.retryWait(), attempt), deadlineNanos));
            }
        }
        throw manifestFailure(FetchException.Reason.MANIFEST, "could not get manifest " + (cid.equals(root) ? "" : "block " + cid
                + " of ") + root + " from any of " + sources.size() + " source(s) in " + options.maxTries() + " tries (last: "
                + lastError + ")", null);
    }

    /**
     * A manifest block from the store, re-hashed first (it is small): one whose bytes no longer
     * match its CID is deleted and fetched again, instead of failing this and every later fetch.
     * Null when the store does not hold an intact copy.
     */
    private byte[] localBlock(Cid cid) throws FetchException {
        if (!store.has(cid)) {
            return null;
        }
        try {
            byte[] bytes = store.readAll(cid);
            if (!Cid.compute(cid.codec(), bytes).equals(cid)) {
                log.warn("store {}: manifest block {} no longer matches its CID (corrupted on disk); deleted, fetching it again",
                        store.root(), cid);
                store.delete(cid);
                return null;
            }
            return bytes;
        } catch (BlobNotFoundException e) {
            return null; // deleted meanwhile
        } catch (IOException e) {
            throw manifestFailure(FetchException.Reason.LOCAL_IO, "cannot read manifest " + cid + " from the local store: " + e.getMessage(), e);
        }
    }

    private FetchException manifestFailure(FetchException.Reason reason, String message, Throwable cause) {
        return new FetchException(reason, message, List.of(root), sources.stats(), cause);
    }

    private void checkDeadline(String lastError) throws FetchException {
        if (System.nanoTime() >= deadlineNanos) {
            throw manifestFailure(FetchException.Reason.DEADLINE, "deadline of " + FetchRun.human(options.deadline())
                    + " passed before the manifest " + root + " arrived (last: " + lastError + ")", null);
        }
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left = nanoTime - System.nanoTime();
        if (left > 0) {
            Thread.sleep(Duration.ofNanos(left));
        }
    }
}
