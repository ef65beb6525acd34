package io.statesync.node.statesync;

/** What {@link StateLoader#addLoadStateTask} did with a task, in the order the queue checks. */
public enum PushResult {
    /** Queued at the front; it is the next to run. */
    PUSHED,
    /** This address was loaded (or judged covered) before; nothing to do. */
    COMPLETED,
    /** This address failed less than the failed-candidate back-off ago. */
    FAILED_BACKOFF,
    /** This address is loading right now. */
    IN_PROGRESS,
    /** This address is already queued (whatever its height). */
    DUPLICATE,
    /** Not strictly above the newest queued anchor (a different anchor thread counts as not above). */
    STALE_HEIGHT,
    /** The loader is closed, or the task's output was already closed; nothing was queued. */
    CLOSED
}
