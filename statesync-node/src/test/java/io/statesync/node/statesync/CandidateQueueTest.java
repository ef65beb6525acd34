package io.statesync.node.statesync;

import static io.statesync.node.statesync.Fixtures.address;
import static io.statesync.node.statesync.Fixtures.block;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.statesync.CandidateQueue.Prune;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The research note's acceptance scenarios 1-9 (§7) for the candidate queue, plus the cross-thread rule. */
class CandidateQueueTest {
    private static final ThreadId T0 = new ThreadId("t0");
    private static final ThreadId T1 = new ThreadId("t1");

    private final AtomicLong now = new AtomicLong();
    private final CandidateQueue<String> queue = new CandidateQueue<>(5, Duration.ofSeconds(10), now::get);

    /** Address {t0 -> block n}, anchored at height h on t0. */
    private static SortedMap<ThreadId, BlockId> a(int n) {
        return address(T0, block(n));
    }

    private PushResult push(int n, long h) {
        return queue.push(a(n), new Anchor(T0, h), "task" + n);
    }

    private long claimHeight() {
        return queue.claim().orElseThrow().candidate().anchor().height();
    }

    @Test
    void s1_pushIntoEmptyQueue() {
        assertEquals(PushResult.PUSHED, push(1, 10));
        assertEquals(1, queue.pendingSize());
    }

    @Test
    void s2_sameAddressAtAnotherHeightIsDuplicate() {
        push(1, 10);
        assertEquals(PushResult.DUPLICATE, push(1, 11));
        assertEquals(1, queue.pendingSize());
    }

    @Test
    void s3_lowerOrEqualHeightIsStale() {
        push(1, 10);
        assertEquals(PushResult.STALE_HEIGHT, push(2, 9));
        assertEquals(PushResult.STALE_HEIGHT, push(3, 10));
    }

    @Test
    void s4_higherHeightIsPushedAndClaimedFirst() {
        push(1, 10);
        assertEquals(PushResult.PUSHED, push(2, 11));
        assertEquals(11, claimHeight());
    }

    @Test
    void s5_capacityFiveDropsTheOldest() {
        for (int h = 1; h <= 6; h++) {
            assertEquals(PushResult.PUSHED, push(h, h));
        }
        List<Long> claimed = new ArrayList<>();
        for (var c = queue.claim(); c.isPresent(); c = queue.claim()) {
            claimed.add(c.get().candidate().anchor().height());
        }
        assertEquals(List.of(6L, 5L, 4L, 3L, 2L), claimed);
    }

    @Test
    void s6_succeededAddressIsCompleted() {
        push(1, 10);
        var c = queue.claim().orElseThrow().candidate();
        queue.succeeded(c.key(), c.anchor());
        assertEquals(PushResult.COMPLETED, push(1, 10));
        assertEquals(0, queue.pendingSize());
    }

    @Test
    void s7_failedAddressBacksOffTenSecondsAndIsNotRequeued() {
        push(1, 10);
        var c = queue.claim().orElseThrow().candidate();
        queue.failed(c.key());
        assertTrue(queue.claim().isEmpty(), "a failure is not re-queued");
        now.addAndGet(Duration.ofSeconds(9).toNanos());
        assertEquals(PushResult.FAILED_BACKOFF, push(1, 10));
        now.addAndGet(Duration.ofSeconds(1).toNanos());
        assertEquals(PushResult.PUSHED, push(1, 10));
    }

    @Test
    void s8_pruneDecision() {
        push(1, 10);
        assertEquals(new Prune.PruneNow(), queue.claim().orElseThrow().prune());

        CandidateQueue<String> two = new CandidateQueue<>(5, Duration.ofSeconds(10), now::get);
        two.push(a(1), new Anchor(T0, 10), "x");
        two.push(a(2), new Anchor(T0, 11), "y");
        assertEquals(new Prune.Defer(1, 0), two.claim().orElseThrow().prune());

        CandidateQueue<String> three = new CandidateQueue<>(5, Duration.ofSeconds(10), now::get);
        three.push(a(1), new Anchor(T0, 10), "x");
        three.push(a(2), new Anchor(T0, 11), "y");
        three.push(a(3), new Anchor(T0, 12), "z");
        three.claim().orElseThrow();
        assertEquals(new Prune.Defer(1, 1), three.claim().orElseThrow().prune());
    }

    @Test
    void s9_successDropsLowerPendingHeightsOnTheSameThread() {
        push(8, 8);
        push(9, 9);
        push(10, 10);
        var c = queue.claim().orElseThrow().candidate();
        assertEquals(PushResult.PUSHED, push(12, 12));
        queue.succeeded(c.key(), c.anchor());
        assertEquals(List.of(new Anchor(T0, 12)), queue.pendingAnchors());
    }

    @Test
    void heightsOnDifferentAnchorThreadsNeverCompare() {
        push(1, 10);
        // Seed rule: another thread counts as "not greater", whatever the number.
        assertEquals(PushResult.STALE_HEIGHT, queue.push(address(T1, block(2)), new Anchor(T1, 1000), "other"));
        // and success on t0 does not drop pending candidates of t1
        CandidateQueue<String> q = new CandidateQueue<>(5, Duration.ofSeconds(10), now::get);
        q.push(address(T1, block(2)), new Anchor(T1, 1), "t1");
        q.push(address(T0, block(3)), new Anchor(T0, 5), "t0"); // STALE: different thread than the front
        assertEquals(1, q.pendingSize());
    }

    @Test
    void inProgressAddressIsRefusedAndCancelledOneMayComeBackAtOnce() {
        push(1, 10);
        var c = queue.claim().orElseThrow().candidate();
        assertEquals(PushResult.IN_PROGRESS, push(1, 10));
        queue.abandoned(c.key());
        assertEquals(PushResult.PUSHED, push(1, 10), "a cancelled load leaves no back-off (not in the seed, which had no cancel)");
    }

    @Test
    void historyIsBoundedAt32() {
        for (int i = 0; i < 40; i++) {
            SortedMap<ThreadId, BlockId> k = a(100 + i);
            queue.push(k, new Anchor(T0, 100 + i), "t");
            var c = queue.claim().orElseThrow().candidate();
            queue.succeeded(c.key(), c.anchor());
        }
        assertEquals(32, queue.sizes().get("completed"));
        // the oldest were forgotten: pushing one again is accepted (below the front? nothing is pending)
        assertEquals(PushResult.PUSHED, push(100, 1));
    }
}
