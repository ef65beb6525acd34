package io.statesync.node.statesync;

import io.statesync.node.ledger.ThreadId;
import java.util.Objects;

/**
 * The height a load task is anchored at: a block height on one thread. Heights on different
 * threads never compare (every comparison is false), as in the seed's {@code BlockHeight}.
 *
 * @param thread the anchor thread; it must be one of the task's address threads
 * @param height the anchor block's height on that thread
 */
public record Anchor(ThreadId thread, long height) {
    public Anchor {
        Objects.requireNonNull(thread, "thread");
    }

    /** True only if both are on the same thread and this height is strictly greater. */
    public boolean isAbove(Anchor other) {
        return thread.equals(other.thread) && height > other.height;
    }

    /** True only if both are on the same thread and this height is strictly lower. */
    public boolean isBelow(Anchor other) {
        return thread.equals(other.thread) && height < other.height;
    }

    @Override
    public String toString() {
        return thread.name() + "@" + height;
    }
}
