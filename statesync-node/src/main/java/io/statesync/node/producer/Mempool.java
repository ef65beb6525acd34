package io.statesync.node.producer;

import io.statesync.node.ledger.Transaction;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The transactions waiting for a block on one thread, oldest first, bounded in count and bytes,
 * and what became of recent ones. Submitters add from HTTP threads while the producer takes, so
 * every method is synchronized; none blocks.
 */
public final class Mempool {
    /** How many outcomes are remembered for status queries. */
    private static final int OUTCOMES_KEPT = 100_000;

    /** A transaction with its id, encoded size, and when it was admitted ({@link System#nanoTime()}). */
    public record Pending(Transaction tx, String id, int bytes, long admittedNanos) {
        public Pending(Transaction tx, String id, int bytes) {
            this(tx, id, bytes, System.nanoTime());
        }
    }

    /** What {@link #offer} did. */
    public enum Offer { ACCEPTED, DUPLICATE, FULL }

    private final int capacity;
    private final long capacityBytes;
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    /** Ids in the queue or being formed into a block. */
    private final Set<String> known = new HashSet<>();
    private long bytes;
    /** Recent outcomes by transaction id: "included in …" or "rejected: …". */
    private final Map<String, String> outcomes = new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > OUTCOMES_KEPT;
        }
    };

    public Mempool(int capacity, long capacityBytes) {
        this.capacity = capacity;
        this.capacityBytes = capacityBytes;
    }

    /**
     * Queues a transaction unless it is pending or included already, or the pool is full. One
     * rejected before may come again (the state it was checked against has changed).
     */
    public synchronized Offer offer(Pending p) {
        String before = outcomes.get(p.id());
        if (known.contains(p.id()) || before != null && !before.startsWith("rejected")) {
            return Offer.DUPLICATE;
        }
        if (queue.size() >= capacity || bytes + p.bytes() > capacityBytes) {
            return Offer.FULL;
        }
        queue.addLast(p);
        known.add(p.id());
        bytes += p.bytes();
        return Offer.ACCEPTED;
    }

    /** Takes up to {@code max} transactions and about {@code maxBytes}, oldest first (at least one if any). */
    synchronized List<Pending> take(int max, long maxBytes) {
        List<Pending> out = new ArrayList<>();
        long taken = 0;
        while (!queue.isEmpty() && out.size() < max) {
            Pending next = queue.peekFirst();
            if (!out.isEmpty() && taken + next.bytes() > maxBytes) {
                break;
            }
            queue.pollFirst();
            bytes -= next.bytes();
            taken += next.bytes();
            out.add(next);
        }
        return out;
    }

    /** Puts transactions a block had no room for back at the front, in their order. */
    synchronized void putBack(List<Pending> pending) {
        for (int i = pending.size() - 1; i >= 0; i--) {
            queue.addFirst(pending.get(i));
            bytes += pending.get(i).bytes();
        }
    }

    /** Records what became of a transaction taken from the pool. */
    synchronized void settle(String id, String outcome) {
        known.remove(id);
        outcomes.put(id, outcome);
    }

    /** "pending", "included in …", "rejected: …", or empty when unknown. */
    public synchronized Optional<String> outcome(String id) {
        String o = outcomes.get(id);
        if (o != null) {
            return Optional.of(o);
        }
        return known.contains(id) ? Optional.of("pending") : Optional.empty();
    }

    public synchronized int size() {
        return queue.size();
    }

    public synchronized long bytes() {
        return bytes;
    }
}
