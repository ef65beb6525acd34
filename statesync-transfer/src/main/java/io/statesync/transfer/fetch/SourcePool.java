package io.statesync.transfer.fetch;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The sources of one fetch and where each stands: requests in flight, back-off, failures,
 * bans, and whether it serves batches. Picks the source expected to deliver a chunk soonest and
 * the best rate for hedging, from the process-wide {@link SourceScores}. Not thread-safe: the
 * fetch guards it with its lock.
 *
 * <p>A source that serves a chunk whose bytes do not match its CID (a bad disk, a bad cache, or
 * malice) is never asked for that chunk again, and from then on is asked only for chunks that no
 * source above suspicion can give this pass: a last resort. It is banned for the rest of the fetch
 * once it served {@link #BAN_AFTER_CORRUPT} corrupt chunks, which bounds what a lying source
 * wastes, while one bad sector does not cost a fetch the only copy of a chunk.
 */
final class SourcePool {
    /** Corrupt chunks after which a source gets no more requests in this fetch. */
    static final int BAN_AFTER_CORRUPT = 8;

    private final SourceScores scores;
    private final int perSourceParallelism;
    /** Every source this fetch has known, in order of appearance. */
    private final List<Peer> peers = new ArrayList<>();

    SourcePool(SourceScores scores, int perSourceParallelism, Collection<Source> initial) {
        this.scores = scores;
        this.perSourceParallelism = perSourceParallelism;
        for (Source s : new LinkedHashSet<>(initial)) {
            peers.add(new Peer(s));
        }
    }

    List<Peer> all() {
        return peers;
    }

    boolean isEmpty() {
        return peers.isEmpty();
    }

    int size() {
        return peers.size();
    }

    boolean noneUsable() {
        return peers.stream().noneMatch(Peer::usable);
    }

    boolean allBanned() {
        return peers.stream().allMatch(p -> p.banned);
    }

    /** Whether a usable source has not failed {@code t} in its current pass (nor served it corrupt). */
    boolean anyFreshFor(ChunkTask t) {
        return peers.stream().anyMatch(q -> fresh(q, t));
    }

    /** Whether any usable source may still be asked for {@code t}: one that never served it corrupt. */
    boolean anyEligible(ChunkTask t) {
        return peers.stream().anyMatch(q -> q.usable() && !t.corruptAt.contains(q));
    }

    private static boolean fresh(Peer q, ChunkTask t) {
        return q.usable() && !t.failedAt.contains(q) && !t.corruptAt.contains(q);
    }

    /** The sources the resolver offers now: new ones join, vanished ones get no new requests. */
    void update(List<Source> offered) {
        Set<Source> current = new LinkedHashSet<>(offered);
        for (Peer p : peers) {
            p.gone = !current.remove(p.source);
        }
        for (Source s : current) {
            peers.add(new Peer(s));
        }
    }

    /** Usable sources, best expected rate first: the order to ask for manifest blocks. */
    List<Peer> ranked() {
        List<Peer> out = new ArrayList<>();
        for (Peer p : peers) {
            if (p.usable()) {
                out.add(p);
            }
        }
        out.sort(Comparator.comparingDouble((Peer p) -> -expectedRate(p)));
        return out;
    }

    /**
     * The usable source expected to deliver {@code t} soonest ({@code rate / (inflight + 1)}),
     * preferring ones it has not failed at, never above the per-source limit, never
     * {@code exclude}, never one that served {@code t} corrupt, and a suspect one only while no
     * source above suspicion is fresh for {@code t}; null when none may take a request now. A
     * source that failed its last request is probed with one request before it gets more.
     */
    Peer pick(ChunkTask t, long now, Peer exclude) {
        boolean goodFresh = peers.stream().anyMatch(q -> !q.suspect() && q != exclude && fresh(q, t));
        Peer best = null;
        double bestScore = -1;
        boolean bestFresh = false;
        for (Peer p : peers) {
            int limit = p.consecutiveFailures > 0 ? 1 : perSourceParallelism;
            if (p == exclude || !p.usable() || p.backoffUntil > now || p.inflight >= limit
                    || t.corruptAt.contains(p) || (p.suspect() && goodFresh)) {
                continue;
            }
            boolean fresh = !t.failedAt.contains(p);
            double score = expectedRate(p) / (p.inflight + 1);
            if (best == null || (fresh && !bestFresh) || (fresh == bestFresh && score > bestScore)) {
                best = p;
                bestScore = score;
                bestFresh = fresh;
            }
        }
        return best;
    }

    /** The best expected rate among usable sources (bytes/s); 0 with none. */
    double bestRate() {
        double best = 0;
        for (Peer p : peers) {
            best = Math.max(best, p.usable() ? expectedRate(p) : 0);
        }
        return best;
    }

    /** When the earliest back-off after {@code now} ends; {@code Long.MAX_VALUE} with none. */
    long nextBackoffEnd(long now) {
        long wake = Long.MAX_VALUE;
        for (Peer p : peers) {
            if (!p.banned && p.backoffUntil > now) {
                wake = Math.min(wake, p.backoffUntil);
            }
        }
        return wake;
    }

    /** Measured rate of one request to this source; an unmeasured source is assumed as fast as the best, so it gets probed. */
    double expectedRate(Peer p) {
        double r = scores.get(p.source).bytesPerSecond();
        if (r > 0) {
            return r;
        }
        double max = 0;
        for (Peer q : peers) {
            max = Math.max(max, scores.get(q.source).bytesPerSecond());
        }
        return max > 0 ? max : 1e9;
    }

    void succeeded(Peer p, long bytes, long nanos) {
        scores.recordSuccess(p.source, bytes, nanos);
        p.consecutiveFailures = 0;
    }

    /** A failed request: counts toward the source's back-off (set by the caller) and probing. */
    void failed(Peer p, String why) {
        scores.recordFailure(p.source);
        p.failures++;
        p.consecutiveFailures++;
        p.lastError = why;
    }

    /**
     * Served {@code t} with bytes that do not match its CID: never asked for {@code t} again, a
     * last resort for the rest, banned at {@link #BAN_AFTER_CORRUPT}. Returns whether this
     * banned it.
     */
    boolean corrupt(Peer p, ChunkTask t, String why) {
        scores.recordFailure(p.source);
        t.corruptAt.add(p);
        p.corrupt++;
        p.failures++;
        if (p.banned) {
            return false; // a request in flight when the ban came; the ban's reason stays
        }
        p.lastError = why;
        if (p.corrupt >= BAN_AFTER_CORRUPT) {
            p.banned = true;
            p.lastError = "banned after " + p.corrupt + " corrupt chunks (last: " + why + ")";
            return true;
        }
        return false;
    }

    /** Served a manifest block that does not match its CID: no more requests for the rest of the fetch. */
    void ban(Peer p, String why) {
        scores.recordFailure(p.source);
        p.corrupt++;
        p.failures++;
        p.banned = true;
        p.lastError = why;
    }

    List<SourceStats> stats(long now) {
        List<SourceStats> out = new ArrayList<>(peers.size());
        for (Peer p : peers) {
            SourceStats.SourceState state = p.banned ? SourceStats.SourceState.BANNED
                    : p.gone ? SourceStats.SourceState.GONE
                    : p.backoffUntil > now ? SourceStats.SourceState.BACKING_OFF : SourceStats.SourceState.ACTIVE;
            out.add(new SourceStats(p.source, state, p.bytes, p.chunks, p.failures, p.corrupt,
                    scores.get(p.source).bytesPerSecond(), p.lastError));
        }
        return out;
    }
}
