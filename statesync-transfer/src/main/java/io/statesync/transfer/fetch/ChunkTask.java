package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One chunk of a fetch and its history. Fields are guarded by the fetch's lock, except
 * {@code done}, read racily by a losing hedged request to stop early.
 */
final class ChunkTask {
    final Cid cid;
    final int length;
    volatile boolean done;
    /** Passes in which every usable source failed this chunk. */
    int attempts;
    long dueAt;
    long startedAt;
    String lastError;
    /** Sources with a request for it in flight (two while hedged). */
    final List<Peer> active = new ArrayList<>(2);
    /** Sources that failed it in the current pass. */
    final Set<Peer> failedAt = new HashSet<>();
    /** Sources that served it corrupt: never asked for it again in this fetch. */
    final Set<Peer> corruptAt = new HashSet<>();

    ChunkTask(Cid cid, int length) {
        this.cid = cid;
        this.length = length;
    }

    @Override
    public String toString() {
        return cid + " (" + length + " bytes)";
    }
}
