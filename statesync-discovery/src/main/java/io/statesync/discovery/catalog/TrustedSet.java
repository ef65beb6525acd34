package io.statesync.discovery.catalog;

import io.statesync.discovery.card.NodeId;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The nodes whose share URLs may be used as sources (the seed's block-keeper set). Live and
 * updatable: callers replace it as the set changes and watchers hear every change. Static
 * storages do not pass through it: content addressing verifies their bytes anyway.
 */
public final class TrustedSet {
    /** The current members, or null when every validly signed node is trusted. */
    private volatile Set<NodeId> members;
    private final CopyOnWriteArrayList<Consumer<TrustedSet>> watchers = new CopyOnWriteArrayList<>();

    private TrustedSet(Set<NodeId> members) {
        this.members = members;
    }

    /** Trusts exactly these nodes (until replaced). */
    public static TrustedSet of(Collection<NodeId> ids) {
        return new TrustedSet(Set.copyOf(ids));
    }

    /** Trusts every node whose card verifies: for open clusters and tests. */
    public static TrustedSet everyone() {
        return new TrustedSet(null);
    }

    public boolean contains(NodeId id) {
        Set<NodeId> m = members;
        return m == null || m.contains(id);
    }

    /** The members, or null when everyone is trusted. */
    public Set<NodeId> members() {
        return members;
    }

    /** Replaces the members and tells the watchers. */
    public void replace(Collection<NodeId> ids) {
        members = Set.copyOf(ids);
        watchers.forEach(w -> w.accept(this));
    }

    /** Calls {@code watcher} after every change; the handle stops it. */
    public AutoCloseable watch(Consumer<TrustedSet> watcher) {
        watchers.add(watcher);
        return () -> watchers.remove(watcher);
    }
}
