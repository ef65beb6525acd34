package io.statesync.groups.sync;

import io.statesync.core.store.ContentStore;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.transfer.fetch.SnapshotFetcher;
import java.io.IOException;
import java.time.Instant;
import java.util.List;

/** What a session may see and do on its lagging member. Implemented by the group runtime only. */
public interface SessionContext {
    String groupId();

    String memberId();

    /** A fresh id for this attempt, used to name its leases on providers. */
    String sessionId();

    /**
     * The leader's first log position when it asked for the catch-up: the state must reach at
     * least {@code target.index() - 1}, after which the leader can send entries again.
     */
    LogPosition target();

    /** The position the local state reflects now, and the chain value there. */
    LogPosition applied();

    byte[] appliedChain();

    /**
     * The position and the chain value there, read together: Ratis's own updater may apply
     * entries while a session runs, and a chain read after the position could belong to a later
     * one.
     */
    Applied appliedNow();

    /** A position and the chain value at it, as one reading. */
    record Applied(LogPosition position, byte[] chain) {
    }

    /**
     * Whether this member's consensus log holds nothing past its state: true for a joiner that
     * does not vote yet. Only then may a session answer with a position it reached without
     * installing a snapshot newer than the state (the state as it is, or entries replayed up to
     * the target). A voting member's log may hold entries of an older term past its state;
     * answered that way, a restarted member stopped following in the restart soak, while an
     * install of a newer snapshot resets the consensus log cleanly.
     */
    boolean logEmptyPastState();

    /** The other members, the leader last. A new attempt gets a fresh list. */
    List<Peer> peers();

    /** Applies the next committed entry (index {@code applied()+1}) to the state and the log. */
    void apply(LogEntry entry) throws IOException;

    /**
     * Installs a snapshot whose manifest and chunks are all in {@link #store()} (verified): its
     * files are materialized into a new directory, handed to the state machine,
     * and recorded; then the local position is the snapshot's.
     */
    void install(SnapshotRecord snapshot) throws IOException;

    /** The group's content store (chunks already held are not fetched again). */
    ContentStore store();

    /** The multi-source verified downloader. */
    SnapshotFetcher fetcher();

    /** HTTP calls to peers. */
    PeerClient client();

    /** Where fetched bytes and entries are counted. */
    SyncMetrics metrics();

    /** When this attempt is cut off. */
    Instant deadline();

    /** Reports how far the attempt is; shown in the group's status and logged every few seconds. */
    void progress(SyncProgress progress);

    /** Snapshots that failed in this group's recent attempts (shared by its attempts). */
    FailedOffers failedOffers();
}
