package io.statesync.groups.sync.replay;

import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.EntryFrame;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.PeerClient;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.SyncException;
import io.statesync.groups.sync.SyncProgress;
import io.statesync.groups.sync.SyncSession;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One log-replay attempt: availability, then batches fetched in parallel and applied strictly in
 * order, each checked before its first entry is applied. The session thread alone touches the
 * state; fetches run on virtual threads of an executor the session owns and closes.
 */
final class LogReplaySession implements SyncSession {
    private static final Logger log = LoggerFactory.getLogger(LogReplaySession.class);
    /** Failures (not corruption) after which a peer is not asked again in this attempt. */
    private static final int MAX_PEER_FAILURES = 3;

    private final SessionContext ctx;
    private final LogReplaySync cfg;
    private final PeerClient client;

    /** Entries each peer holds, first..last, as it said at the start. */
    private final Map<Peer, long[]> held = new LinkedHashMap<>();
    private final Map<Peer, Integer> inFlight = new HashMap<>();
    private final Map<Peer, Integer> failures = new HashMap<>();
    private final Set<Peer> banned = new HashSet<>();
    /** Why peers failed, for the error message when none is left. */
    private final Map<String, String> reasons = new LinkedHashMap<>();
    /** Ranges still to fetch, lowest first. */
    private final Deque<long[]> todo = new ArrayDeque<>();
    /** Fetched, structurally sound frames waiting for their turn, by first index. */
    private final TreeMap<Long, Got> ready = new TreeMap<>();
    private final BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
    /** The first index and the last index this attempt replays, for progress. */
    private long start;
    private long goal;
    private long need;

    private sealed interface Outcome permits Got, Failed {
        Peer peer();

        long from();

        long to();
    }

    private record Got(Peer peer, long from, long to, EntryFrame frame) implements Outcome {
    }

    private record Failed(Peer peer, long from, long to, String why, boolean corrupt) implements Outcome {
    }

    LogReplaySession(SessionContext ctx, LogReplaySync cfg) {
        this.ctx = ctx;
        this.cfg = cfg;
        this.client = ctx.client();
    }

    @Override
    public LogPosition run() throws Exception {
        start = ctx.applied().index() + 1;
        need = ctx.target().index() - 1;
        discover();
        // Never further than the leader says it holds (or than Ratis needs): one peer's inflated
        // range must not make this attempt chase entries that do not exist.
        long cap = need;
        for (Map.Entry<Peer, long[]> e : held.entrySet()) {
            if (e.getKey().leader()) {
                cap = Math.max(cap, e.getValue()[1]);
            }
        }
        goal = Math.min(coveredFrom(start), cap);
        if (goal < start) {
            if (need < start) {
                return ctx.applied();
            }
            throw new SyncException("no peer holds committed entries from index " + start + " (held: " + describeHeld()
                    + ")");
        }
        if (goal < need) {
            throw new SyncException("peers hold committed entries only up to " + goal + " but the leader's log starts at "
                    + (need + 1));
        }
        log.info("group {}: replaying entries {}..{} from {} peer(s)", ctx.groupId(), start, goal, held.size());
        for (long a = start; a <= goal; a += cfg.batchSize()) {
            todo.add(new long[] {a, Math.min(goal, a + cfg.batchSize() - 1)});
        }
        List<Peer> holders = List.copyOf(held.keySet());
        leaseAll(holders, start);
        // Renewed on a clock of its own, not between batches: applying a batch can take longer
        // than a lease lasts, and a provider would prune what the rest of the replay needs.
        Thread renewer = Thread.ofVirtual().name("statesync-replay-lease-" + ctx.sessionId()).start(() -> {
            try {
                while (true) {
                    Thread.sleep(cfg.leaseTtl().dividedBy(3));
                    leaseAll(holders, ctx.applied().index() + 1);
                }
            } catch (InterruptedException e) {
                // The replay ended.
            }
        });
        ExecutorService workers = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-replay-" + ctx.sessionId() + "-", 0).factory());
        try {
            while (ctx.applied().index() < goal) {
                assign(workers);
                if (stuck()) {
                    if (ctx.applied().index() >= need) {
                        // What the leader needs is here; the rest arrives through Ratis.
                        break;
                    }
                    throw new SyncException("no usable peer left for entries " + (ctx.applied().index() + 1) + ".."
                            + goal + ": " + reasons);
                }
                Outcome o = outcomes.poll(200, TimeUnit.MILLISECONDS);
                if (o == null) {
                    continue;
                }
                inFlight.merge(o.peer(), -1, Integer::sum);
                switch (o) {
                    case Failed f -> {
                        reasons.put(f.peer().id(), f.why());
                        if (f.corrupt()) {
                            ban(f.peer(), f.why());
                        } else if (failures.merge(f.peer(), 1, Integer::sum) >= MAX_PEER_FAILURES) {
                            banned.add(f.peer());
                        }
                        requeue(f.from(), f.to());
                    }
                    case Got g -> accept(g);
                }
                drain();
            }
        } finally {
            renewer.interrupt();
            io.statesync.core.concurrent.Uninterruptibly.join(renewer);
            workers.shutdownNow();
            workers.close();
            client.releaseLeases(holders, ctx.sessionId());
        }
        return ctx.applied();
    }

    /** Asks every peer what it holds; a peer that does not answer is left out of this attempt. */
    private void discover() throws InterruptedException {
        List<Peer> peers = new ArrayList<>(ctx.peers());
        for (Peer p : peers) {
            try {
                JsonNode r = client.getJson(p, "sync/log/range", cfg.fetchTimeout());
                long first = r.path("first").asLong(-1);
                long last = r.path("last").asLong(-1);
                if (first >= 1 && last >= first - 1) {
                    held.put(p, new long[] {first, last});
                } else {
                    reasons.put(p.id(), "answered a malformed range");
                }
            } catch (IOException e) {
                reasons.put(p.id(), e.getMessage());
            }
        }
    }

    /** The highest index L such that start..L is held by the union of peers' ranges. */
    private long coveredFrom(long start) {
        long reach = start - 1;
        boolean grew = true;
        while (grew) {
            grew = false;
            for (long[] r : held.values()) {
                if (r[0] <= reach + 1 && r[1] > reach) {
                    reach = r[1];
                    grew = true;
                }
            }
        }
        return reach;
    }

    /** Hands queued ranges to idle peers holding them, the leader only when no one else can. */
    private void assign(ExecutorService workers) {
        while (!todo.isEmpty()) {
            long[] range = todo.peekFirst();
            Peer p = pick(range[0]);
            if (p == null) {
                return;
            }
            todo.pollFirst();
            long to = Math.min(range[1], held.get(p)[1]);
            if (to < range[1]) {
                todo.addFirst(new long[] {to + 1, range[1]});
            }
            long from = range[0];
            inFlight.merge(p, 1, Integer::sum);
            workers.execute(() -> outcomes.add(fetch(p, from, to)));
        }
    }

    private Peer pick(long from) {
        return held.entrySet().stream()
                .filter(e -> !banned.contains(e.getKey()))
                .filter(e -> e.getValue()[0] <= from && e.getValue()[1] >= from)
                .filter(e -> inFlight.getOrDefault(e.getKey(), 0) < cfg.inFlightPerPeer())
                .map(Map.Entry::getKey)
                .min(Comparator.comparing(Peer::leader).thenComparing(p -> inFlight.getOrDefault(p, 0)))
                .orElse(null);
    }

    private Outcome fetch(Peer p, long from, long to) {
        byte[] body;
        try {
            body = client.get(p, "sync/log/entries?from=" + from + "&to=" + to, cfg.fetchTimeout());
        } catch (IOException e) {
            return new Failed(p, from, to, e.getMessage(), false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Failed(p, from, to, "cancelled", false);
        } catch (RuntimeException | Error e) {
            // Every fetch reports an outcome, or its range would be lost and the session wait for it.
            return new Failed(p, from, to, "request failed: " + e, false);
        }
        try {
            return new Got(p, from, to, EntryFrame.decode(body, cfg.batchSize()));
        } catch (IOException e) {
            return new Failed(p, from, to, "sent a malformed batch: " + e.getMessage(), true);
        }
    }

    /** Structural checks that need no other batch: the range asked for, terms never going down. */
    private void accept(Got g) {
        EntryFrame f = g.frame();
        String bad = null;
        if (f.from() != g.from()) {
            bad = "answered entries from " + f.from() + " when asked for " + g.from();
        } else if (f.to() > g.to()) {
            bad = "answered up to " + f.to() + " when asked for up to " + g.to();
        } else {
            for (int i = 1; i < f.entries().size() && bad == null; i++) {
                if (f.entries().get(i).term() < f.entries().get(i - 1).term()) {
                    bad = "sent terms going down at index " + f.entries().get(i).index();
                }
            }
        }
        if (bad != null) {
            ban(g.peer(), bad);
            requeue(g.from(), g.to());
            return;
        }
        if (f.to() < g.to()) {
            // A shorter answer (the peer caps by bytes): the rest goes back to the queue.
            requeue(f.to() + 1, g.to());
        }
        ready.put(f.from(), new Got(g.peer(), f.from(), f.to(), f));
        failures.remove(g.peer());
    }

    /** Applies ready batches in order, each after its chain is checked against the supplier and a witness. */
    private void drain() throws IOException, InterruptedException {
        Map.Entry<Long, Got> head;
        while ((head = ready.firstEntry()) != null && head.getKey() <= ctx.applied().index() + 1) {
            Got g = ready.pollFirstEntry().getValue();
            // One reading of position and chain for the whole check: Ratis's updater may apply
            // entries meanwhile, and a chain from a later position would make an honest batch look
            // forged (issue 4's review, item b).
            SessionContext.Applied now = ctx.appliedNow();
            if (g.to() <= now.position().index()) {
                continue;
            }
            List<LogEntry> entries = g.frame().entries().stream()
                    .filter(e -> e.index() > now.position().index()).toList();
            String bad = verify(g, entries, now);
            if (bad != null) {
                ban(g.peer(), bad);
                requeue(entries.get(0).index(), g.to());
                continue;
            }
            for (LogEntry e : entries) {
                ctx.apply(e);
            }
            ctx.metrics().entries(g.peer().id(), entries.size());
            ctx.progress(new SyncProgress(ctx.applied().index() - start + 1, goal - start + 1, "entries"));
        }
    }

    /** Null if the batch continues our log; otherwise why it does not. */
    private String verify(Got g, List<LogEntry> entries, SessionContext.Applied now) throws InterruptedException {
        LogPosition applied = now.position();
        if (entries.get(0).term() < applied.term()) {
            return "sent entry " + entries.get(0).index() + " with term " + entries.get(0).term()
                    + ", below the term " + applied.term() + " of the entry before it";
        }
        // From our chain value over the entries we lack; with an overlap (part of the batch applied
        // already) this still ends at the batch's last entry, where the supplier's claim applies.
        byte[] chain = now.chain();
        for (LogEntry e : entries) {
            chain = Chain.next(chain, e);
        }
        if (!Arrays.equals(chain, g.frame().claimedChain())) {
            return "sent entries " + g.from() + ".." + g.to() + " that do not hash to the chain value it claims";
        }
        return witness(g.peer(), g.to(), chain);
    }

    /**
     * Asks the other peers holding {@code index} for their chain value there, the leader first,
     * until one agrees; if the ones that answer disagree, the majority decides and the losers are
     * banned. With no other peer to ask, the supplier's own chain check stands.
     */
    private String witness(Peer supplier, long index, byte[] chain) throws InterruptedException {
        List<Peer> witnesses = held.entrySet().stream()
                .filter(e -> !e.getKey().equals(supplier) && !banned.contains(e.getKey()))
                .filter(e -> e.getValue()[0] <= index && e.getValue()[1] >= index)
                .map(Map.Entry::getKey)
                .sorted(Comparator.comparing(Peer::leader).reversed())
                .toList();
        int agree = 1;
        List<Peer> dissent = new ArrayList<>();
        for (Peer w : witnesses) {
            byte[] theirs;
            try {
                JsonNode r = client.getJson(w, "sync/log/chain?index=" + index, cfg.fetchTimeout());
                theirs = Chain.parse(r.path("chain").asText());
            } catch (IOException | IllegalArgumentException e) {
                continue;
            }
            if (Arrays.equals(theirs, chain)) {
                agree++;
                if (dissent.isEmpty()) {
                    return null;
                }
            } else {
                dissent.add(w);
            }
            if (agree > dissent.size() + (witnesses.size() - agree - dissent.size() + 1)) {
                break;
            }
        }
        if (dissent.isEmpty()) {
            return null;
        }
        if (agree > dissent.size()) {
            for (Peer d : dissent) {
                ban(d, "vouched for a chain value at " + index + " that the majority does not hold");
            }
            return null;
        }
        return "sent entries ending at " + index + " that other peers do not vouch for";
    }

    private void ban(Peer p, String why) {
        if (banned.add(p)) {
            log.warn("group {}: banning peer {} for this session: it {}", ctx.groupId(), p.id(), why);
        }
        reasons.put(p.id(), "banned: it " + why);
        // Its other batches waiting here are not trusted either.
        for (Iterator<Got> it = ready.values().iterator(); it.hasNext(); ) {
            Got g = it.next();
            if (g.peer().equals(p)) {
                it.remove();
                requeue(g.from(), g.to());
            }
        }
    }

    private void requeue(long from, long to) {
        if (to <= ctx.applied().index()) {
            return;
        }
        long[] range = {Math.max(from, ctx.applied().index() + 1), to};
        List<long[]> all = new ArrayList<>(todo);
        all.add(range);
        all.sort(Comparator.comparingLong(r -> r[0]));
        todo.clear();
        todo.addAll(all);
    }

    /** Nothing in flight, nothing applicable waiting, and no peer to take the next range. */
    private boolean stuck() {
        if (inFlightTotal() > 0) {
            return false;
        }
        Map.Entry<Long, Got> head = ready.firstEntry();
        if (head != null && head.getKey() <= ctx.applied().index() + 1) {
            return false;
        }
        return todo.isEmpty() || pick(todo.peekFirst()[0]) == null;
    }

    private int inFlightTotal() {
        return inFlight.values().stream().mapToInt(Integer::intValue).sum();
    }

    private void leaseAll(List<Peer> holders, long from) throws InterruptedException {
        for (Peer p : holders) {
            try {
                client.postJson(p, "leases?session=" + ctx.sessionId() + "&from=" + from + "&ttlMs="
                        + cfg.leaseTtl().toMillis(), cfg.fetchTimeout());
            } catch (IOException e) {
                PeerClient.logLeaseFailure(log, ctx.groupId(), p, e);
            }
        }
    }

    private String describeHeld() {
        StringBuilder b = new StringBuilder();
        held.forEach((p, r) -> b.append(b.isEmpty() ? "" : ", ").append(p.id()).append(' ').append(r[0]).append("..")
                .append(r[1]));
        reasons.forEach((id, why) -> b.append(b.isEmpty() ? "" : ", ").append(id).append(": ").append(why));
        return b.isEmpty() ? "no peer answered" : b.toString();
    }
}
