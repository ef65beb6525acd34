package io.statesync.transfer.fetch;

import io.statesync.core.cid.Cid;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Where every chunk of one fetch stands: due now (in order), waiting out a retry wait, in
 * flight, or done. Time comes from an injected clock, so the retry order can be tested without
 * sleeping. Not thread-safe: the fetch guards it with its lock.
 */
final class ChunkQueue {
    private final LongSupplier clock;
    private final Map<Cid, ChunkTask> tasks = new LinkedHashMap<>();
    /** Due now, in the order to try them. */
    private final ArrayDeque<ChunkTask> ready = new ArrayDeque<>();
    /** Waiting out their retry wait, earliest first. */
    private final PriorityQueue<ChunkTask> waiting = new PriorityQueue<>(Comparator.comparingLong(t -> t.dueAt));
    /** With a request in flight, oldest first: the candidates for hedging. */
    private final Set<ChunkTask> inFlight = new LinkedHashSet<>();
    private int remaining;

    ChunkQueue(LongSupplier clock) {
        this.clock = clock;
    }

    long now() {
        return clock.getAsLong();
    }

    boolean contains(Cid cid) {
        return tasks.containsKey(cid);
    }

    /** Records a chunk of the fetch without queueing it (it may turn out to be local). */
    ChunkTask register(Cid cid, int length) {
        ChunkTask t = new ChunkTask(cid, length);
        tasks.put(cid, t);
        return t;
    }

    /** A registered chunk to be fetched: due now, after those already due. */
    void enqueue(ChunkTask t) {
        t.dueAt = now();
        ready.addLast(t);
        remaining++;
    }

    /** Chunks not yet done. */
    int remaining() {
        return remaining;
    }

    /** Every chunk of the fetch. */
    int size() {
        return tasks.size();
    }

    Collection<ChunkTask> all() {
        return Collections.unmodifiableCollection(tasks.values());
    }

    /** The chunk to try next, if any is due (retries whose wait has passed come first); null otherwise. */
    ChunkTask peekDue() {
        promoteDue();
        return ready.peekFirst();
    }

    /** Removes the chunk {@link #peekDue()} returned. */
    ChunkTask pollDue() {
        promoteDue();
        return ready.pollFirst();
    }

    /** Removes and returns due chunks after the head that {@code fits}, up to a count and a byte total. */
    List<ChunkTask> takeDue(Predicate<ChunkTask> fits, int maxCount, long maxBytes, long bytesSoFar) {
        List<ChunkTask> out = new ArrayList<>();
        long bytes = bytesSoFar;
        for (Iterator<ChunkTask> it = ready.iterator(); it.hasNext() && out.size() < maxCount && bytes < maxBytes; ) {
            ChunkTask t = it.next();
            if (fits.test(t)) {
                it.remove();
                out.add(t);
                bytes += t.length;
            }
        }
        return out;
    }

    /** When the earliest waiting retry falls due; {@link Long#MAX_VALUE} with none waiting. */
    long nextRetryAt() {
        ChunkTask t = waiting.peek();
        return t == null ? Long.MAX_VALUE : t.dueAt;
    }

    /** A request for {@code t} started (the first of its requests, if hedged). */
    void started(ChunkTask t) {
        if (inFlight.add(t)) {
            t.startedAt = now();
        }
    }

    /** No request for {@code t} is in flight any more. */
    void stopped(ChunkTask t) {
        inFlight.remove(t);
    }

    /** The chunks in flight, oldest first. */
    Collection<ChunkTask> inFlight() {
        return Collections.unmodifiableCollection(inFlight);
    }

    /** {@code t} arrived verified; false when it already had (a hedged duplicate). */
    boolean done(ChunkTask t) {
        if (t.done) {
            return false;
        }
        t.done = true;
        inFlight.remove(t);
        remaining--;
        return true;
    }

    /** Back to the front of the due chunks at once (another source may have it), unless already queued. */
    void retryNow(ChunkTask t) {
        if (!t.done && !ready.contains(t) && !waiting.contains(t)) {
            t.dueAt = now();
            ready.addFirst(t);
        }
    }

    /** Due again at {@code dueAt}, not before. */
    void retryAt(ChunkTask t, long dueAt) {
        if (!t.done) {
            t.dueAt = dueAt;
            waiting.add(t);
        }
    }

    /** The CIDs not yet done, in manifest order. */
    List<Cid> missing() {
        List<Cid> out = new ArrayList<>();
        for (ChunkTask t : tasks.values()) {
            if (!t.done) {
                out.add(t.cid);
            }
        }
        return out;
    }

    private void promoteDue() {
        long now = now();
        // Earliest last, so that the earliest ends up first.
        List<ChunkTask> due = new ArrayList<>();
        while (!waiting.isEmpty() && waiting.peek().dueAt <= now) {
            due.add(waiting.poll());
        }
        for (int i = due.size() - 1; i >= 0; i--) {
            ready.addFirst(due.get(i));
        }
    }
}
