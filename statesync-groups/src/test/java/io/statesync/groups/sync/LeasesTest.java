package io.statesync.groups.sync;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Leases on a fake clock: grants, renewals, releases, the log floor, snapshot pins, expiry and the TTL cap. */
class LeasesTest {
    private static final Cid SNAP_A = Cid.compute(Codec.DAG_JSON, "a".getBytes(UTF_8));
    private static final Cid SNAP_B = Cid.compute(Codec.DAG_JSON, "b".getBytes(UTF_8));
    private static final Duration TEN_S = Duration.ofSeconds(10);

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final Leases leases = new Leases(now::get);

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void noLeasesPinNothing() throws Exception {
        assertEquals(0, leases.size());
        assertEquals(Long.MAX_VALUE, leases.logFloor());
        assertFalse(leases.pins(SNAP_A));
    }

    @Test
    void grantRenewAndRelease() throws Exception {
        // Given a session holding entries from 100
        assertEquals(TEN_S, leases.grant("m", "s1", 100, null, TEN_S));
        assertEquals(1, leases.size());
        assertEquals(100, leases.logFloor());

        // When it renews with a later index, the hold moves (a renewal replaces the lease)
        leases.grant("m", "s1", 250, null, TEN_S);
        assertEquals(1, leases.size());
        assertEquals(250, leases.logFloor());

        // When it releases, nothing is held
        leases.release("m", "s1");
        assertEquals(0, leases.size());
        assertEquals(Long.MAX_VALUE, leases.logFloor());
        // Releasing again, or a session never seen, is harmless
        leases.release("m", "s1");
        leases.release("m", "nobody");
    }

    @Test
    void logFloorIsTheLowestIndexOfLiveLogLeases() throws Exception {
        leases.grant("m", "s1", 300, null, TEN_S);
        leases.grant("m", "s2", 120, null, Duration.ofSeconds(2));
        leases.grant("m", "s3", 500, null, TEN_S);
        // A snapshot-only lease holds no log entries
        leases.grant("m", "snap", -1, SNAP_A, TEN_S);
        assertEquals(120, leases.logFloor());
        assertEquals(4, leases.size());

        // When the lowest lease expires, the floor rises to the next one
        advance(Duration.ofSeconds(2));
        assertEquals(300, leases.logFloor());
        assertEquals(3, leases.size());

        leases.release("m", "s1");
        assertEquals(500, leases.logFloor());
    }

    @Test
    void aSnapshotLeasePinsThatSnapshotOnly() throws Exception {
        leases.grant("m", "s1", -1, SNAP_A, TEN_S);
        assertTrue(leases.pins(SNAP_A));
        assertFalse(leases.pins(SNAP_B));
        assertEquals(Long.MAX_VALUE, leases.logFloor());

        // A lease may hold both a snapshot and the entries after it
        leases.grant("m", "s2", 42, SNAP_B, TEN_S);
        assertTrue(leases.pins(SNAP_B));
        assertEquals(42, leases.logFloor());

        leases.release("m", "s1");
        assertFalse(leases.pins(SNAP_A));
        assertTrue(leases.pins(SNAP_B));
    }

    @Test
    void leasesExpireUnlessRenewed() throws Exception {
        leases.grant("m", "s1", 10, SNAP_A, TEN_S);

        // Just before the term ends the lease holds
        advance(TEN_S.minusNanos(1));
        assertEquals(10, leases.logFloor());
        assertTrue(leases.pins(SNAP_A));

        // When it is renewed, it lasts a full term from now
        leases.grant("m", "s1", 10, SNAP_A, TEN_S);
        advance(Duration.ofSeconds(9));
        assertTrue(leases.pins(SNAP_A));

        // When the renewed term is over, it holds nothing and is forgotten
        advance(Duration.ofSeconds(1));
        assertFalse(leases.pins(SNAP_A));
        assertEquals(Long.MAX_VALUE, leases.logFloor());
        assertEquals(0, leases.size());
    }

    @Test
    void theTermIsCappedAtMaxTtl() throws Exception {
        Duration granted = leases.grant("m", "s1", 7, null, Duration.ofHours(5));
        assertEquals(Leases.MAX_TTL, granted);

        advance(Leases.MAX_TTL.minusNanos(1));
        assertEquals(7, leases.logFloor());
        advance(Duration.ofNanos(1));
        assertEquals(Long.MAX_VALUE, leases.logFloor());

        // A term under the cap is granted as asked
        assertEquals(Duration.ofMillis(1), leases.grant("m", "s2", 7, null, Duration.ofMillis(1)));
        assertEquals(Leases.MAX_TTL, leases.grant("m", "s3", 7, null, Leases.MAX_TTL));
    }

    @Test
    void expiryWorksAcrossTheNanoClockWrapping() throws Exception {
        // System.nanoTime may be anywhere, negative or about to overflow
        now.set(Long.MAX_VALUE - Duration.ofSeconds(1).toNanos());
        leases.grant("m", "s1", 5, null, TEN_S);
        advance(Duration.ofSeconds(5)); // the clock wraps to negative values
        assertTrue(now.get() < 0);
        assertEquals(5, leases.logFloor());
        advance(Duration.ofSeconds(5));
        assertEquals(Long.MAX_VALUE, leases.logFloor());
    }

    @Test
    void badGrantsAreRefused() throws Exception {
        assertEquals("session", assertThrows(NullPointerException.class,
                () -> leases.grant("m", null, 1, null, TEN_S)).getMessage());
        assertEquals("ttl", assertThrows(NullPointerException.class,
                () -> leases.grant("m", "s1", 1, null, null)).getMessage());
        assertEquals("a lease term must be positive, not PT0S", assertThrows(IllegalArgumentException.class,
                () -> leases.grant("m", "s1", 1, null, Duration.ZERO)).getMessage());
        assertEquals("a lease term must be positive, not PT-1S", assertThrows(IllegalArgumentException.class,
                () -> leases.grant("m", "s1", 1, null, Duration.ofSeconds(-1))).getMessage());
        assertEquals(0, leases.size());
    }

    @Test
    void onlyTheOwnerRenewsOrReleasesItsLease() throws Exception {
        leases.grant("n1", "s", 100, null, TEN_S);
        // Another member naming the same session gets a lease of its own, and cannot release n1's
        leases.grant("n2", "s", 300, null, TEN_S);
        assertEquals(2, leases.size());
        assertFalse(leases.release("n3", "s"));
        assertTrue(leases.release("n2", "s"));
        assertEquals(100, leases.logFloor(), "n1's lease still holds");
        assertFalse(leases.release("n2", "s"), "released once");
        assertTrue(leases.release("n1", "s"));
    }

    @Test
    void aMemberAndAllMembersTogetherHoldBoundedLeases() throws Exception {
        for (int i = 0; i < Leases.MAX_PER_OWNER; i++) {
            leases.grant("n1", "s" + i, 100, null, TEN_S);
        }
        Leases.LimitException mine = assertThrows(Leases.LimitException.class,
                () -> leases.grant("n1", "one-more", 100, null, TEN_S));
        assertEquals("member n1 holds " + Leases.MAX_PER_OWNER + " leases here already (at most "
                + Leases.MAX_PER_OWNER + "); renew or release one", mine.getMessage());
        leases.grant("n1", "s0", 200, SNAP_A, TEN_S); // a renewal is always allowed

        for (int i = 0; leases.size() < Leases.MAX_TOTAL; i++) {
            leases.grant("m" + i / Leases.MAX_PER_OWNER, "s" + i, 100, null, TEN_S);
        }
        Leases.LimitException all = assertThrows(Leases.LimitException.class,
                () -> leases.grant("newcomer", "s", 100, null, TEN_S));
        assertTrue(all.getMessage().startsWith("this member holds " + Leases.MAX_TOTAL + " leases already"),
                all.getMessage());

        // Expired leases make room
        advance(TEN_S);
        leases.grant("newcomer", "s", 100, null, TEN_S);
        assertEquals(1, leases.size());
    }
}
