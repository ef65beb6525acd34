package io.statesync.node.statesync;

import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.ThreadId;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The bounded queue of load candidates, with the seed's semantics: the key is the whole address
 * (the anchor is not part of it); the newest push is claimed first; completed and failed keys
 * are remembered (32 each, oldest forgotten first). Deliberately absent: the seed's
 * "return to pool" (re-queue at the back without back-off), whose only use was cycling a
 * candidate that had used up its tries; here such a candidate fails and backs off.
 * Thread-safe.
 */
final class CandidateQueue<T> {
    /** Completed and failed keys remembered, as in the seed. */
    static final int HISTORY = 32;

    /** One queued task. */
    record Candidate<T>(SortedMap<ThreadId, BlockId> key, Anchor anchor, T payload) {
    }

    /** Whether the claimant may prune below its anchor: only when nothing else is queued or running. */
    sealed interface Prune {
        record PruneNow() implements Prune {
        }

        record Defer(int pending, int inProgress) implements Prune {
        }
    }

    record Claim<T>(Candidate<T> candidate, Prune prune) {
    }

    private final int capacity;
    private final long backoffNanos;
    private final LongSupplier nanoClock;
    /** Front = newest = claimed next. */
    private final Deque<Candidate<T>> pending = new ArrayDeque<>();
    private final Set<SortedMap<ThreadId, BlockId>> inProgress = new HashSet<>();
    /** Insertion order = age; the oldest is evicted past HISTORY. */
    private final LinkedHashSet<SortedMap<ThreadId, BlockId>> completed = new LinkedHashSet<>();
    /** Key to the clock reading of its last failure. */
    private final LinkedHashMap<SortedMap<ThreadId, BlockId>, Long> failed = new LinkedHashMap<>();

    CandidateQueue(int capacity, Duration failedBackoff, LongSupplier nanoClock) {
        this.capacity = capacity;
        this.backoffNanos = failedBackoff.toNanos();
        this.nanoClock = nanoClock;
    }

    /** Queues at the front unless one of the checks (in {@link PushResult} order) refuses it. */
    synchronized PushResult push(SortedMap<ThreadId, BlockId> address, Anchor anchor, T payload) {
        SortedMap<ThreadId, BlockId> key = Addresses.copy(address);
        if (completed.contains(key)) {
            return PushResult.COMPLETED;
        }
        if (inBackoff(key)) {
            return PushResult.FAILED_BACKOFF;
        }
        if (inProgress.contains(key)) {
            return PushResult.IN_PROGRESS;
        }
        for (Candidate<T> c : pending) {
            if (c.key().equals(key)) {
                return PushResult.DUPLICATE;
            }
        }
        Candidate<T> front = pending.peekFirst();
        if (front != null && !anchor.isAbove(front.anchor())) {
            return PushResult.STALE_HEIGHT;
        }
        pending.addFirst(new Candidate<>(key, anchor, payload));
        while (pending.size() > capacity) {
            pending.removeLast();
        }
        failed.remove(key);
        return PushResult.PUSHED;
    }

    /** Takes the newest usable candidate, discarding completed, running and backing-off ones; marks it running. */
    synchronized Optional<Claim<T>> claim() {
        Candidate<T> c;
        while ((c = pending.pollFirst()) != null) {
            if (completed.contains(c.key()) || inProgress.contains(c.key()) || inBackoff(c.key())) {
                continue;
            }
            inProgress.add(c.key());
            int others = inProgress.size() - 1;
            Prune prune = pending.isEmpty() && others == 0 ? new Prune.PruneNow() : new Prune.Defer(pending.size(), others);
            return Optional.of(new Claim<>(c, prune));
        }
        return Optional.empty();
    }

    /** The load of {@code key} succeeded (or was judged covered): remembered, and lower queued anchors on its thread dropped. */
    synchronized void succeeded(SortedMap<ThreadId, BlockId> key, Anchor anchor) {
        inProgress.remove(key);
        pending.removeIf(c -> c.key().equals(key) || c.anchor().isBelow(anchor));
        remember(completed, key);
    }

    /** The load of {@code key} failed: refused for the back-off; not queued again. */
    synchronized void failed(SortedMap<ThreadId, BlockId> key) {
        inProgress.remove(key);
        failed.remove(key);
        failed.put(key, nanoClock.getAsLong());
        while (failed.size() > HISTORY) {
            Iterator<SortedMap<ThreadId, BlockId>> it = failed.keySet().iterator();
            it.next();
            it.remove();
        }
    }

    /** The load of {@code key} was cancelled: neither completed nor failed, so it may be queued again at once. */
    synchronized void abandoned(SortedMap<ThreadId, BlockId> key) {
        inProgress.remove(key);
    }

    /** Drops every queued candidate (history stays, as in the seed); returns them. */
    synchronized List<Candidate<T>> clearPending() {
        List<Candidate<T>> out = new ArrayList<>(pending);
        pending.clear();
        return out;
    }

    /** Drops the queued candidates whose payload matches; returns them. */
    synchronized List<Candidate<T>> removePendingIf(Predicate<T> which) {
        List<Candidate<T>> out = new ArrayList<>();
        pending.removeIf(c -> {
            if (which.test(c.payload())) {
                out.add(c);
                return true;
            }
            return false;
        });
        return out;
    }

    synchronized int pendingSize() {
        return pending.size();
    }

    /** The queued anchors, front (next claimed) first. */
    synchronized List<Anchor> pendingAnchors() {
        return pending.stream().map(Candidate::anchor).toList();
    }

    private boolean inBackoff(SortedMap<ThreadId, BlockId> key) {
        Long at = failed.get(key);
        return at != null && nanoClock.getAsLong() - at < backoffNanos;
    }

    private static <K> void remember(LinkedHashSet<K> set, K key) {
        set.remove(key);
        set.add(key);
        while (set.size() > HISTORY) {
            Iterator<K> it = set.iterator();
            it.next();
            it.remove();
        }
    }

    /** For tests: the key set views are not exposed otherwise. */
    synchronized Map<String, Integer> sizes() {
        return Map.of("pending", pending.size(), "inProgress", inProgress.size(), "completed", completed.size(),
                "failed", failed.size());
    }
}
