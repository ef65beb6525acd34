package io.statesync.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.chain.ShareRequest;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.server.RouteException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Saves on request ({@code POST /admin/sync/share}; the seed's "state sync requested"): each
 * thread asked saves its state at its next block, whatever {@code saveStateEvery} says, so a
 * node about to join loads a fresh state instead of one up to {@code saveStateEvery} blocks old.
 *
 * <p>The request is a command committed through the thread's group ({@link ShareRequest}): the
 * save is decided while a block is applied, at the same log position on every replica, so every
 * replica saves the same block and their snapshots share one content address. Two limits keep a
 * flood of requests from making the nodes save all the time: this node submits at most one
 * request per thread per {@code interval} (a refused one never reaches the log), and the replicas
 * grant at most one per {@code interval} of block time however many nodes submit them.
 */
final class ShareRequests {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The longest a caller may wait for the save. */
    static final Duration MAX_WAIT = Duration.ofSeconds(60);

    private final Map<ThreadId, ChainThread> threads;
    private final Duration interval;
    private final MeterRegistry registry;
    /** When this node last had a request granted, per thread (nanoTime); guarded by this. */
    private final Map<ThreadId, Long> lastSubmitted = new HashMap<>();

    ShareRequests(Map<ThreadId, ChainThread> threads, Duration interval, MeterRegistry registry) {
        this.threads = threads;
        this.interval = interval;
        this.registry = registry;
    }

    /** What became of the request on one thread. */
    private sealed interface Outcome {
        record Requested(long afterHeight) implements Outcome {
        }

        record Saved(long afterHeight, SnapshotRecord saved) implements Outcome {
        }

        record Limited(String reason) implements Outcome {
        }
    }

    /**
     * Asks {@code which} threads to save at their next block and waits up to {@code wait} for the
     * saves to be recorded here. 200 when every save was recorded within the wait, 202 when asked
     * (some or all not yet saved), 429 when every thread refused (too soon after the last save on
     * request), 503 when the request could not be committed.
     */
    Answer request(List<ChainThread> which, Duration wait) throws RouteException, InterruptedException {
        Map<ThreadId, Outcome> outcomes = new java.util.LinkedHashMap<>();
        long now = System.nanoTime();
        List<ChainThread> claimed = new ArrayList<>();
        synchronized (this) {
            // Every thread of one request is claimed at once, so concurrent requests do not split
            // the threads between them: the first takes all it may, the others are refused.
            for (ChainThread t : which) {
                Long last = lastSubmitted.get(t.id());
                if (last != null && now - last < interval.toNanos()) {
                    count(t, "limited");
                    long ago = (now - last) / 1_000_000_000L;
                    outcomes.put(t.id(), new Outcome.Limited("thread " + t.id().name()
                            + ": a fresh state was requested here " + ago + " s ago; at most one per "
                            + interval.toSeconds() + " s, the next in " + Math.max(1, interval.toSeconds() - ago)
                            + " s"));
                } else {
                    lastSubmitted.put(t.id(), now);
                    claimed.add(t);
                }
            }
        }
        for (ChainThread t : claimed) {
            try {
                outcomes.put(t.id(), submit(t));
            } catch (RouteException e) {
                claimed.subList(claimed.indexOf(t), claimed.size()).forEach(c -> release(c, now));
                throw e;
            }
        }
        long deadline = System.nanoTime() + wait.toNanos();
        for (ChainThread t : which) {
            if (outcomes.get(t.id()) instanceof Outcome.Requested r && !wait.isZero()) {
                Optional<SnapshotRecord> saved = awaitSave(t, r.afterHeight(), deadline);
                if (saved.isPresent()) {
                    outcomes.put(t.id(), new Outcome.Saved(r.afterHeight(), saved.get()));
                }
            }
        }
        if (outcomes.values().stream().allMatch(o -> o instanceof Outcome.Limited)) {
            List<String> reasons = new ArrayList<>();
            outcomes.values().forEach(o -> reasons.add(((Outcome.Limited) o).reason()));
            throw new RouteException(429, String.join("; ", reasons));
        }
        ObjectNode root = JSON.createObjectNode();
        ObjectNode ts = root.putObject("threads");
        boolean allSaved = true;
        for (Map.Entry<ThreadId, Outcome> e : outcomes.entrySet()) {
            ObjectNode n = ts.putObject(e.getKey().name());
            switch (e.getValue()) {
                case Outcome.Requested r -> {
                    allSaved = false;
                    n.put("status", "requested").put("after", r.afterHeight());
                }
                case Outcome.Saved s -> n.put("status", "saved").put("after", s.afterHeight())
                        .put("height", Long.parseLong(s.saved().metadata().get("height")))
                        .put("block", s.saved().metadata().get("block"))
                        .put("manifest", s.saved().manifest().toString()).put("index", s.saved().index());
                case Outcome.Limited l -> {
                    allSaved = false;
                    n.put("status", "limited").put("reason", l.reason());
                }
            }
        }
        return new Answer(allSaved && !wait.isZero() ? 200 : 202, root);
    }

    /** The answer to a request: its status code and document. */
    record Answer(int status, ObjectNode body) {
    }

    /** Commits the request on a thread this node claimed; the caller releases the claim if this throws. */
    private Outcome submit(ChainThread t) throws RouteException {
        byte[] result;
        try {
            result = t.group().submitBlocking(new ShareRequest(interval).encode());
        } catch (IOException e) {
            throw new RouteException(503, "thread " + t.id().name() + ": the request was not committed: "
                    + String.valueOf(e.getMessage()).replaceAll("[\\r\\n]+", " "));
        }
        Optional<ShareRequest.Answer> answer = ShareRequest.Answer.decode(result);
        if (answer.isEmpty()) {
            throw new RouteException(503, "thread " + t.id().name() + ": the group answered '"
                    + new String(result, java.nio.charset.StandardCharsets.UTF_8).replaceAll("[\\r\\n]+", " ")
                    + "' (does every member run this version?)");
        }
        return switch (answer.get()) {
            case ShareRequest.Answer.Granted g -> {
                count(t, "granted");
                yield new Outcome.Requested(g.height());
            }
            case ShareRequest.Answer.Pending p -> {
                count(t, "pending");
                yield new Outcome.Requested(p.height());
            }
            case ShareRequest.Answer.Limited l -> {
                count(t, "limited");
                yield new Outcome.Limited(l.reason());
            }
        };
    }

    private synchronized void release(ChainThread t, long claimed) {
        lastSubmitted.remove(t.id(), claimed);
    }

    /** Waits for a snapshot of a block above {@code afterHeight} recorded here; empty at the deadline. */
    private static Optional<SnapshotRecord> awaitSave(ChainThread t, long afterHeight, long deadline)
            throws InterruptedException {
        while (true) {
            for (SnapshotRecord r : t.group().snapshots()) {
                try {
                    if (Long.parseLong(r.metadata().getOrDefault("height", "-1")) > afterHeight) {
                        return Optional.of(r);
                    }
                } catch (NumberFormatException notALedgerSnapshot) {
                    // skip
                }
            }
            if (System.nanoTime() >= deadline) {
                return Optional.empty();
            }
            Thread.sleep(50);
        }
    }

    private void count(ChainThread t, String outcome) {
        Counter.builder("statesync.node.share.requests").tag("thread", t.id().name()).tag("outcome", outcome)
                .description("requests for a save at the next block, by what became of them").register(registry)
                .increment();
    }
}
