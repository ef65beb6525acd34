package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The chunk queue on a hand-moved clock: order, retry waits, in-flight and done accounting. */
class ChunkQueueTest {
    private final AtomicLong clock = new AtomicLong(1_000);
    private final ChunkQueue queue = new ChunkQueue(clock::get);

    private ChunkTask add(int i, int length) {
        ChunkTask t = queue.register(cid(i), length);
        queue.enqueue(t);
        return t;
    }

    private static Cid cid(int i) {
        return Cid.compute(Codec.RAW, new byte[] {(byte) i, (byte) (i >> 8)});
    }

    @Test
    void chunksComeOutInTheOrderTheyWereQueued() {
        ChunkTask a = add(1, 10);
        ChunkTask b = add(2, 10);
        ChunkTask c = add(3, 10);

        assertSame(a, queue.pollDue());
        assertSame(b, queue.pollDue());
        assertSame(c, queue.pollDue());
        assertNull(queue.pollDue());
        assertEquals(3, queue.remaining());
    }

    @Test
    void aRetryWaitsUntilItsTimeAndThenComesFirst() {
        ChunkTask a = add(1, 10);
        ChunkTask b = add(2, 10);
        assertSame(a, queue.pollDue());
        queue.retryAt(a, 1_500);

        assertEquals(1_500, queue.nextRetryAt());
        assertSame(b, queue.peekDue(), "not yet due: the next chunk goes first");
        assertSame(b, queue.pollDue());
        assertNull(queue.peekDue());

        clock.set(1_499);
        assertNull(queue.peekDue());
        clock.set(1_500);
        assertSame(a, queue.pollDue());
        assertEquals(Long.MAX_VALUE, queue.nextRetryAt());
    }

    @Test
    void severalDueRetriesComeOutEarliestFirst() {
        ChunkTask a = add(1, 10);
        ChunkTask b = add(2, 10);
        ChunkTask c = add(3, 10);
        queue.pollDue();
        queue.pollDue();
        queue.pollDue();
        queue.retryAt(c, 1_300);
        queue.retryAt(a, 1_100);
        queue.retryAt(b, 1_200);

        clock.set(2_000);
        assertSame(a, queue.pollDue());
        assertSame(b, queue.pollDue());
        assertSame(c, queue.pollDue());
    }

    @Test
    void retryNowGoesToTheFrontOnceAndNotForADoneChunk() {
        ChunkTask a = add(1, 10);
        ChunkTask b = add(2, 10);
        assertSame(a, queue.pollDue());
        queue.retryNow(a);
        queue.retryNow(a);
        assertSame(a, queue.pollDue());
        assertSame(b, queue.pollDue(), "queued once, not twice");
        assertNull(queue.pollDue());

        queue.done(b);
        queue.retryNow(b);
        queue.retryAt(b, 0);
        assertNull(queue.pollDue(), "a done chunk is never queued again");
    }

    @Test
    void doneCountsOnceAndInFlightTracksTheOldestFirst() {
        ChunkTask a = add(1, 10);
        ChunkTask b = add(2, 10);
        clock.set(2_000);
        queue.started(queue.pollDue());
        clock.set(3_000);
        queue.started(queue.pollDue());
        queue.started(a); // a hedged second request: still started at 2000

        assertEquals(List.of(a, b), List.copyOf(queue.inFlight()));
        assertEquals(2_000, a.startedAt);
        assertTrue(queue.done(a));
        assertFalse(queue.done(a), "a hedged duplicate does not count twice");
        assertEquals(1, queue.remaining());
        assertEquals(List.of(b), List.copyOf(queue.inFlight()));
        assertEquals(List.of(b.cid), queue.missing());
        queue.stopped(b);
        assertTrue(queue.inFlight().isEmpty());
    }

    @Test
    void takeDueTakesFittingChunksUpToACountAndASize() {
        ChunkTask head = add(1, 100);
        ChunkTask big = add(2, 5_000);
        ChunkTask c = add(3, 100);
        ChunkTask d = add(4, 100);
        ChunkTask e = add(5, 100);
        assertSame(head, queue.pollDue());

        List<ChunkTask> taken = queue.takeDue(t -> t.length <= 1_000, 2, 10_000, head.length);

        assertEquals(List.of(c, d), taken, "the oversized one is skipped, the count stops at 2");
        assertSame(big, queue.pollDue(), "what was not taken keeps its place");
        assertSame(e, queue.pollDue());

        add(6, 400);
        add(7, 400);
        add(8, 400);
        assertEquals(2, queue.takeDue(t -> true, 10, 900, 100).size(), "stops once the bytes reach the target");
    }

    @Test
    void registeredButNotQueuedChunksAreNotRemaining() {
        ChunkTask local = queue.register(cid(9), 10);
        local.done = true;
        add(10, 10);
        assertEquals(2, queue.size());
        assertEquals(1, queue.remaining());
        assertEquals(List.of(cid(10)), queue.missing());
    }
}
