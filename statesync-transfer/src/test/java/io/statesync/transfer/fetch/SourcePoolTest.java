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

    @Test
    void aSourceThatServedAChunkCorruptIsNeverAskedForItAgainAndIsALastResortForTheRest() {
        ChunkTask other = new ChunkTask(Cid.compute(Codec.RAW, new byte[] {2}), 1);
        scores.recordSuccess(a, 9_000_000, 1_000_000_000L);
        assertEquals(false, pool.corrupt(peer(a), chunk, "digest mismatch"), "one corrupt chunk bans nothing");
        assertTrue(peer(a).suspect() && peer(a).usable());

        assertSame(peer(b), pool.pick(chunk, 0, null));
        peer(b).inflight = 2;
        assertNull(pool.pick(chunk, 0, null), "never a second time from a, even with b full");
        assertNull(pool.pick(other, 0, null), "a waits behind b, however much faster it was");
        other.failedAt.add(peer(b));
        assertSame(peer(a), pool.pick(other, 0, null), "b failed it: a is the last resort");

        assertTrue(pool.anyEligible(other));
        chunk.failedAt.add(peer(b));
        assertTrue(pool.anyEligible(chunk), "b may still be asked again next pass");
        pool.corrupt(peer(b), chunk, "digest mismatch");
        assertEquals(false, pool.anyEligible(chunk), "every source served it corrupt");
        assertEquals(false, pool.anyFreshFor(chunk));
    }

    @Test
    void aSourceIsBannedAtTheThresholdOfCorruptChunks() {
        for (int i = 1; i < SourcePool.BAN_AFTER_CORRUPT; i++) {
            assertEquals(false, pool.corrupt(peer(a), new ChunkTask(Cid.compute(Codec.RAW, new byte[] {(byte) i}), 1),
                    "bad"));
        }
        assertTrue(peer(a).usable());
        assertTrue(pool.corrupt(peer(a), chunk, "bad"), "the " + SourcePool.BAN_AFTER_CORRUPT + "th bans it");
        assertEquals(false, peer(a).usable());
        assertEquals(false, pool.corrupt(peer(a), chunk, "bad"), "banned once");
        assertEquals("banned after " + SourcePool.BAN_AFTER_CORRUPT + " corrupt chunks (last: bad)",
                pool.stats(0).get(0).lastError());
        assertEquals(SourceStats.SourceState.BANNED, pool.stats(0).get(0).state());
    }
}
