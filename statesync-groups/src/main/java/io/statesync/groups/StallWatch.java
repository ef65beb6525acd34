package io.statesync.groups;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.core.concurrent.Uninterruptibly;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches one member so that it can never look healthy while it does not follow its group. A
 * member is stalled when, for longer than the stall timeout, either its consensus engine is not
 * running (Ratis closed or failed the division), or its applied index stood still while its peers
 * had applied more (their applied index is asked over HTTP, not taken from this member's own view,
 * which is exactly what freezes). A running catch-up that reports progress is following; one that
 * shows none gets four stall timeouts, since an install may work a while without reporting.
 *
 * <p>A stall is logged at ERROR, counted, and answered with a recovery: a member behind its peers
 * first catches up past its position, then its consensus engine is restarted, which also makes the
 * leader look at it afresh. A stall gets {@link #MAX_ATTEMPTS} such recoveries. If the member stalls again after the last of them before it caught up,
 * through consensus, with what the group had applied when the recovery started, the member is
 * {@code FAILED}
 * and its host should stop. A state machine that failed to apply an entry is failed at once: a
 * restart would only fail on the same entry again.
 *
 * <p>The watch runs on its own virtual thread, owned and joined by {@link #close}.
 */
final class StallWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StallWatch.class);

    /** What the watch reads of its member. */
    interface Probe {
        /** The consensus engine's lifecycle state, e.g. RUNNING or CLOSED. */
        String consensusState();

        long applied();

        /** Units done by the running catch-up attempt (bytes or entries), or -1. */
        long catchUpProgress();

        boolean catchingUp();

        /** Why the state machine stopped applying, or null. */
        String failure();

        /**
         * Whether the group's settled membership no longer names this member, which it did
         * earlier: it was removed, and no recovery can make it follow again.
         */
        default boolean removed() {
            return false;
        }

        /** The highest applied index any reachable peer reports, or -1 if none answered. */
        long peersApplied() throws InterruptedException;

        /**
         * Brings the member back: catches up past its position first if it is {@code behind} its
         * peers, then restarts its consensus engine.
         */
        void recover(boolean behind) throws Exception;
    }

    private final String group;
    private final Probe probe;
    private final long stallNanos;
    private final long intervalMillis;
    private final Counter stalls;
    private final Counter recoveries;
    private final Thread thread;
    private volatile GroupHealth health = GroupHealth.OK;

    // Read and written by the watch thread only.
    private long lastApplied = -1;
    private long lastProgress = -1;
    private long progressAt;
    /** The peers' best applied index first seen after this member's last progress; -1: none yet. */
    private long peersAtProgress = -1;
    private long peersBest = -1;
    private long notRunningSince;
    /**
     * The applied index the member must reach, through consensus, to count as back: what its peers
     * had applied when the recovery started (or its own index if they had no more); -1 when no
     * recovery is pending.
     */
    private long recoveryTarget = -1;
    /** Recovery attempts in the current stall; see {@link #MAX_ATTEMPTS}. */
    private int attempts;

    /**
     * A stall gets this many recovery attempts before the member is failed. Two, not one: an
     * attempt's catch-up installs the newest snapshot its peers offer, and right after a restart
     * that can still lie below what the leader believes this member acknowledged, in which case
     * Ratis's leader and follower disagree about where to resume and the member stalls again
     * (seen in the restart soak). The second attempt, a stall timeout later, finds a newer snapshot.
     */
    static final int MAX_ATTEMPTS = 2;

    StallWatch(String groupId, String groupName, Probe probe, Duration stallTimeout, MeterRegistry registry) {
        this.group = groupName;
        this.probe = probe;
        this.stallNanos = stallTimeout.toNanos();
        this.intervalMillis = Math.clamp(stallTimeout.toMillis() / 10, 100, 2000);
        this.stalls = Counter.builder("statesync.groups.stalls").description("times a member stopped following")
                .tag("group", groupName).register(registry);
        this.recoveries = Counter.builder("statesync.groups.stall.recoveries")
                .description("consensus restarts after a stall").tag("group", groupName).register(registry);
        Gauge.builder("statesync.groups.stalled", this, w -> w.health.ok() ? 0 : 1)
                .description("1 while the member is stalled or failed").tag("group", groupName).register(registry);
        this.thread = Thread.ofVirtual().name("statesync-stall-watch-" + groupId.substring(0, 8)).unstarted(this::run);
    }

    void start() {
        progressAt = System.nanoTime();
        thread.start();
    }

    GroupHealth health() {
        return health;
    }

    private void run() {
        while (!Thread.currentThread().isInterrupted() && health.status() != GroupHealth.Status.FAILED) {
            try {
                Thread.sleep(intervalMillis);
                check();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                // The watch itself must not die quietly: that would be the lie it exists to prevent.
                log.warn("group {}: stall watch check failed: {}", group, e.toString());
            } catch (Error e) {
                fail("the stall watch failed: " + e);
                throw e;
            }
        }
    }

    private void check() throws InterruptedException {
        long now = System.nanoTime();
        String failure = probe.failure();
        if (failure != null) {
            fail("the state machine stopped: " + failure);
            return;
        }
        if (probe.removed()) {
            fail("this member was removed from the group");
            return;
        }
        long applied = probe.applied();
        long progress = probe.catchUpProgress();
        if (applied != lastApplied || progress != lastProgress) {
            lastApplied = applied;
            lastProgress = progress;
            progressAt = now;
            peersAtProgress = -1;
        }
        String state = probe.consensusState();
        boolean running = state.equals("RUNNING") || state.equals("STARTING");
        notRunningSince = running ? 0 : notRunningSince == 0 ? now : notRunningSince;
        long peers = probe.peersApplied();
        peersBest = Math.max(peersBest, peers);
        if (peersAtProgress < 0) {
            peersAtProgress = peers;
        }
        long limit = probe.catchingUp() ? 4 * stallNanos : stallNanos;
        String stalled = null;
        if (notRunningSince != 0 && now - notRunningSince > stallNanos) {
            stalled = "consensus is " + state + " for " + seconds(now - notRunningSince) + " s";
        } else if (peers > applied && now - progressAt > limit) {
            // Peers applied entries this member has not, and it has not moved: whether they are
            // still going (it is being left behind) or idle (it will never get there), it does not
            // follow.
            stalled = "applied index " + applied + " has not moved for " + seconds(now - progressAt)
                    + " s while peers applied up to " + peers
                    + (peers > peersAtProgress && peersAtProgress >= 0 ? " (from " + peersAtProgress + ")" : "");
        }
        if (stalled == null) {
            // Back means following through consensus again, not just moved by the recovery's catch-up.
            if (recoveryTarget >= 0 && applied >= recoveryTarget && running) {
                log.info("group {}: following again at applied index {}", group, applied);
                recoveryTarget = -1;
                attempts = 0;
            }
            if (!health.ok() && recoveryTarget < 0) {
                health = GroupHealth.OK;
            }
            return;
        }
        if (attempts >= MAX_ATTEMPTS) {
            fail(stalled + "; " + attempts + " recoveries did not bring it back");
            return;
        }
        if (attempts == 0) {
            stalls.increment();
        }
        attempts++;
        health = new GroupHealth(GroupHealth.Status.STALLED, stalled + "; recovering");
        log.error("group {} STALLED on this member: {}; recovery {} of {} (catch-up if behind, consensus restart)",
                group, stalled, attempts, MAX_ATTEMPTS);
        // Back = caught up with what the peers had applied; a member whose consensus stopped while
        // it was level with idle peers is back at its own position, since no new entry will come.
        recoveryTarget = Math.max(recoveryTarget, peersBest > applied ? peersBest : applied);
        recoveries.increment();
        try {
            probe.recover(peers > applied + 1);
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) {
            if (Thread.currentThread().isInterrupted()) {
                return; // The group is closing; that is not a failure of the member.
            }
            // A used attempt: the next stall check tries again, or fails the member if none is left.
            log.error("group {}: recovery {} of {} failed: {}", group, attempts, MAX_ATTEMPTS, e.toString());
        }
        progressAt = System.nanoTime();
        peersAtProgress = -1;
        notRunningSince = 0;
    }

    private void fail(String reason) {
        health = new GroupHealth(GroupHealth.Status.FAILED, reason);
        log.error("group {} FAILED on this member: {}", group, reason);
    }

    private static long seconds(long nanos) {
        return nanos / 1_000_000_000L;
    }

    @Override
    public void close() {
        thread.interrupt();
        Uninterruptibly.join(thread);
    }
}
