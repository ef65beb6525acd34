package io.statesync.groups.sync;

import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;

/** Serves lagging peers for the group's lifetime, on every member, in every role. */
public interface SyncProvider {
    /**
     * Answers a peer's request to {@code /groups/{id}/sync/...}; {@code request.path()} starts
     * below {@code sync/}. Runs on a virtual thread per request.
     */
    RouteResponse handle(RouteRequest request) throws RouteException;

    /**
     * The highest log index that may be pruned now from the committed log served to peers;
     * {@code Long.MAX_VALUE} when the provider does not object. The runtime never prunes past
     * the newest snapshot either.
     */
    default long safeToPruneLog() {
        return Long.MAX_VALUE;
    }

    /**
     * Hears that the local state now reflects {@code position} (called on the apply path after every
     * entry, so it must return at once).
     */
    default void committed(LogPosition position) {
    }

    /** Whether an old snapshot may be deleted now (no running session is fetching it). */
    default boolean maySnapshotBeDropped(SnapshotRecord snapshot) {
        return true;
    }
}
