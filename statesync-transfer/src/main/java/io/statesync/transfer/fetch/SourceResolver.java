package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import java.util.List;

/**
 * Where a snapshot can be fetched from right now, best first. A fetch asks again while it runs
 * (on {@link #watch} notifications and every progress tick), so sources that appear mid-way get
 * work and sources that leave get no new requests.
 */
public interface SourceResolver {
    /** The current sources of {@code root}, best first, without duplicates. */
    List<Source> resolve(Cid root);

    /**
     * Asks to be told when {@link #resolve} may answer differently. The default never calls;
     * the fetch then still re-resolves on its progress tick.
     *
     * @return a handle that stops the notifications
     */
    default AutoCloseable watch(Cid root, Runnable onChange) {
        return () -> { };
    }

    /**
     * True if {@link #resolve} never changes its answer: with no usable source left, a fetch
     * then fails at once instead of waiting for new sources until its deadline.
     */
    default boolean isFixed() {
        return false;
    }

    /** A fixed list of sources. */
    static SourceResolver of(List<Source> sources) {
        List<Source> copy = List.copyOf(new java.util.LinkedHashSet<>(sources));
        return new SourceResolver() {
            @Override
            public List<Source> resolve(Cid root) {
                return copy;
            }

            @Override
            public boolean isFixed() {
                return true;
            }
        };
    }
}
