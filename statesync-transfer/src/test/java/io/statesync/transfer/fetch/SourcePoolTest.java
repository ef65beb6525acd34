package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Picking sources: rate over load, fresh before failed, limits, probes, bans and vanished sources. */
class SourcePoolTest {
    private final Source a = new Source(URI.create("http://a.example"));
    private final Source b = new Source(URI.create("http://b.example"));
    private final SourceScores scores = new SourceScores();
    private final SourcePool pool = new SourcePool(scores, 2, List.of(a, b, a));
    private final ChunkTask chunk = new ChunkTask(Cid.compute(Codec.RAW, new byte[] {1}), 1);

    private Peer peer(Source s) {
        return pool.all().stream().filter(p -> p.source.equals(s)).findFirst().orElseThrow();
    }

    @Test
    void theFasterSourceWinsUntilItsLoadEvensTheScore() {
        assertEquals(2, pool.size(), "a source given twice counts once");
        scores.recordSuccess(a, 4_000_000, 1_000_000_000L);
        scores.recordSuccess(b, 1_000_000, 1_000_000_000L);
        assertSame(peer(a), pool.pick(chunk, 0, null));
        peer(a).inflight = 1;
        assertSame(peer(a), pool.pick(chunk, 0, null), "4 MB/s over 2 still beats 1 MB/s");
        peer(a).inflight = 2;
        assertSame(peer(b), pool.pick(chunk, 0, null), "a is at its per-source limit");
        peer(b).inflight = 2;
        assertNull(pool.pick(chunk, 0, null));
    }

    @Test
    void aSourceTheChunkFailedAtComesLastAndAFailingSourceIsProbedWithOneRequest() {
        scores.recordSuccess(a, 4_000_000, 1_000_000_000L);
        chunk.failedAt.add(peer(a));
        assertSame(peer(b), pool.pick(chunk, 0, null), "fresh first, whatever the rate");
        pool.failed(peer(b), "refused");
        peer(b).inflight = 1;
        assertSame(peer(a), pool.pick(chunk, 0, null), "b failed last time: one request at a time");
        assertTrue(pool.anyFreshFor(chunk));
    }

    @Test
    void backOffBansAndVanishedSourcesGetNoRequests() {
        peer(a).backoffUntil = 100;
        assertSame(peer(b), pool.pick(chunk, 50, null));
        assertEquals(100, pool.nextBackoffEnd(50));
        assertSame(peer(a), pool.pick(chunk, 100, peer(b)), "the back-off is over; b excluded");

        pool.ban(peer(a), "served bad bytes");
        pool.update(List.of(a));
        assertTrue(pool.noneUsable(), "a is banned and b is gone");
        assertEquals(List.of(SourceStats.SourceState.BANNED, SourceStats.SourceState.GONE),
                pool.stats(0).stream().map(SourceStats::state).toList());

        Source c = new Source(URI.create("http://c.example"));
        pool.update(List.of(a, c));
        assertSame(peer(c), pool.pick(chunk, 0, null), "a new source joins");
    }
}
