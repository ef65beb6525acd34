package io.statesync.groups.sync;

import io.statesync.groups.log.LogPosition;

/** One catch-up attempt on a lagging member. */
public interface SyncSession {
    /**
     * Brings the local state to at least {@link SessionContext#target()} and returns the position
     * the state now reflects. Blocking, straight-line code is expected; an interrupt means the
     * attempt was cancelled or ran out of time, and must end it promptly. Any exception fails the
     * attempt; the runtime retries with a fresh context after a backoff.
     */
    LogPosition run() throws Exception;
}
