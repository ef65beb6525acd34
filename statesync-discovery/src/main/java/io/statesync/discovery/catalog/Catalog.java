package io.statesync.discovery.catalog;

import io.statesync.core.cid.Cid;
import io.statesync.discovery.card.NodeCard;
import io.statesync.discovery.card.NodeId;
import io.statesync.discovery.card.SnapshotAd;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The verified cards of the live nodes: who serves what. A newer card version replaces an
 * older one (a replayed old card changes nothing); a node that leaves or fails, or whose card
 * expires, drops out. Listeners hear every change, so a running download can gain sources.
 */
public final class Catalog {
    private final Map<NodeId, NodeCard> cards = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Consumer<Change>> listeners = new CopyOnWriteArrayList<>();
    private final Clock clock;

    /** What changed in the catalog. */
    public sealed interface Change {
        NodeId node();
    }

    /** A node's card arrived, or a newer version of it. */
    public record Updated(NodeCard card) implements Change {
        @Override
        public NodeId node() {
            return card.id();
        }
    }

    /** A node left, failed, or its card expired. */
    public record Removed(NodeId node) implements Change {
    }

    public Catalog(Clock clock) {
        this.clock = clock;
    }

    /** Takes a verified card; returns false if it is not newer than the one held. */
    public boolean accept(NodeCard card) {
        boolean[] changed = {false};
        cards.compute(card.id(), (id, old) -> {
            if (old != null && old.version() >= card.version()) {
                return old;
            }
            changed[0] = true;
            return card;
        });
        if (changed[0]) {
            fire(new Updated(card));
        }
        return changed[0];
    }

    /** Drops a node (it left or failed). */
    public void remove(NodeId id) {
        if (cards.remove(id) != null) {
            fire(new Removed(id));
        }
    }

    /** Drops every card past its expiry; returns how many. */
    public int expire() {
        int n = 0;
        for (NodeCard c : List.copyOf(cards.values())) {
            if (c.expiredAt(clock.instant()) && cards.remove(c.id(), c)) {
                fire(new Removed(c.id()));
                n++;
            }
        }
        return n;
    }

    /** Every live, unexpired card, by node id. */
    public List<NodeCard> cards() {
        List<NodeCard> out = new ArrayList<>();
        for (NodeCard c : cards.values()) {
            if (!c.expiredAt(clock.instant())) {
                out.add(c);
            }
        }
        out.sort(Comparator.comparing(NodeCard::id));
        return out;
    }

    /** The live nodes advertising snapshot {@code root}. */
    public List<NodeCard> holders(Cid root) {
        return cards().stream().filter(c -> c.snapshots().stream().anyMatch(s -> s.root().equals(root))).toList();
    }

    /** The highest snapshot of {@code group} that any live node advertises (ties: most holders). */
    public Optional<SnapshotAd> newest(String group) {
        return newest(group, Long.MIN_VALUE);
    }

    /** The highest snapshot of {@code group} at height at least {@code minHeight}. */
    public Optional<SnapshotAd> newest(String group, long minHeight) {
        return newest(group, minHeight, c -> true);
    }

    /** As {@link #newest(String, long)}, counting only the cards {@code from} admits. */
    public Optional<SnapshotAd> newest(String group, long minHeight, java.util.function.Predicate<NodeCard> from) {
        Map<Cid, Integer> holders = new java.util.HashMap<>();
        Map<Cid, SnapshotAd> ads = new java.util.HashMap<>();
        for (NodeCard c : cards()) {
            if (!from.test(c)) {
                continue;
            }
            for (SnapshotAd s : c.snapshots()) {
                if (group.equals(s.group()) && s.height() >= minHeight) {
                    holders.merge(s.root(), 1, Integer::sum);
                    ads.putIfAbsent(s.root(), s);
                }
            }
        }
        return ads.values().stream()
                .max(Comparator.comparingLong(SnapshotAd::height).thenComparing(s -> holders.get(s.root())));
    }

    /** Calls {@code listener} on every change; the handle stops it. */
    public AutoCloseable subscribe(Consumer<Change> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    private void fire(Change change) {
        for (Consumer<Change> l : listeners) {
            l.accept(change);
        }
    }
}
