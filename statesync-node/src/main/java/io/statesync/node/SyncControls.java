package io.statesync.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.statesync.core.concurrent.Uninterruptibly;
import io.statesync.groups.GroupStatus;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.ledger.BlockId;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.statesync.Anchor;
import io.statesync.node.statesync.BlockLocator;
import io.statesync.node.statesync.LoadOutput;
import io.statesync.node.statesync.LoadProgress;
import io.statesync.node.statesync.LoadResult;
import io.statesync.node.statesync.PushResult;
import io.statesync.node.statesync.StateSyncService;
import io.statesync.transfer.server.RouteException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The operator's controls of the state-sync service ({@code /admin/sync/load|reset|status}): a
 * load of one saved state per thread, as one task of the service ({@link
 * StateSyncService#addLoadStateTask}), its reset ({@link StateSyncService#resetSync}), and where
 * loads stand. One operator load at a time.
 *
 * <p>What a load may do to a running member: a thread's state only changes through its group, so
 * a load is refused unless this member stands behind the block (it is not the thread's leader,
 * no catch-up runs, and the block's height is above the thread's), and the state goes in through
 * the group ({@link ThreadRepository}). Every refusal a request can be given at once, it is; the
 * rest (a fetch that fails, a state root that does not match) shows in the status.
 */
final class SyncControls implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Each request made to find a block: offers of the group's members, pointers, manifests. */
    private static final Duration LOCATE_TIMEOUT = Duration.ofSeconds(3);
    /** The longest reason quoted from locating a block, so that the answer stays one short line. */
    private static final int MAX_NOTES_CHARS = 300;

    private final String nodeId;
    private final Map<ThreadId, ChainThread> threads;
    private final StateSyncService service;
    private final ThreadRepository repository;
    private final BlockLocator locator;

    /** The operator's load: the newest one, running or ended. Guarded by this. */
    private OperatorLoad load;
    /** Guarded by this. */
    private boolean closed;

    /** One operator load and what became of it. */
    private static final class OperatorLoad {
        final SortedMap<ThreadId, BlockId> address;
        final Anchor anchor;
        final LoadOutput output;
        final Instant queued = Instant.now();
        final Thread watcher;
        /** Set once, by the watcher; null while the task is queued or running. */
        volatile LoadResult result;

        OperatorLoad(SortedMap<ThreadId, BlockId> address, Anchor anchor, LoadOutput output, Runnable watch) {
            this.address = address;
            this.anchor = anchor;
            this.output = output;
            this.watcher = Thread.ofVirtual().name("statesync-admin-load").unstarted(watch);
        }
    }

    SyncControls(String nodeId, Map<ThreadId, ChainThread> threads, StateSyncService service, Path work) {
        this.nodeId = nodeId;
        this.threads = threads;
        this.service = service;
        this.repository = new ThreadRepository(threads, work);
        this.locator = service.locator();
    }

    /**
     * Queues a load of {@code {thread: block id}} (a JSON object); 202 with what was found, or a
     * refusal: 400 malformed, 404 unknown thread or block, 409 not behind, leader, catching up, a
     * load running or the queue refusing it.
     */
    ObjectNode load(byte[] body) throws RouteException, InterruptedException {
        SortedMap<ThreadId, BlockId> address = parse(body);
        synchronized (this) {
            if (closed) {
                throw new RouteException(503, "node " + nodeId + " is closing");
            }
            if (load != null && load.result == null) {
                throw new RouteException(409, "a load of " + describe(load.address)
                        + " is running; wait for it or POST /admin/sync/reset");
            }
        }
        for (ThreadId t : address.keySet()) {
            ChainThread c = threads.get(t);
            GroupStatus g = c.groupStatus();
            if ("LEADER".equals(g.role())) {
                throw new RouteException(409, "node " + nodeId + " leads thread " + t.name()
                        + ": a leader's state is its group's log; load into a member that is behind");
            }
            if (g.catchingUp()) {
                throw new RouteException(409, "thread " + t.name() + " is catching up with its group; "
                        + "a load would race it (POST /admin/sync/reset cancels the catch-up's load)");
            }
            if (service.loading(t)) {
                throw new RouteException(409, "a load is running on thread " + t.name()
                        + "; wait for it or POST /admin/sync/reset");
            }
        }
        Map<ThreadId, BlockLocator.Found> found = new TreeMap<>(java.util.Comparator.comparing(ThreadId::name));
        for (Map.Entry<ThreadId, BlockId> e : address.entrySet()) {
            ThreadId t = e.getKey();
            List<String> notes = new ArrayList<>();
            BlockLocator.Found f = locator.find(t, e.getValue(), memberStores(threads.get(t)), LOCATE_TIMEOUT, notes)
                    .orElseThrow(() -> new RouteException(404, "no member of thread " + t.name()
                            + "'s group, gossip peer or static storage holds a saved state of block "
                            + e.getValue().hex() + notes(notes)));
            Head head = threads.get(t).machine().read(Ledger::head);
            if (f.height() <= head.height()) {
                throw new RouteException(409, "thread " + t.name() + " stands at height " + head.height()
                        + ", at or past block " + e.getValue().hex() + " (height " + f.height()
                        + "): nothing to load");
            }
            found.put(t, f);
        }
        ThreadId first = address.firstKey();
        Anchor anchor = new Anchor(first, found.get(first).height());
        LoadOutput output = new LoadOutput();
        OperatorLoad next;
        synchronized (this) {
            if (closed || load != null && load.result == null) {
                throw new RouteException(409, "another load was queued meanwhile");
            }
            found.forEach((t, f) -> service.hint(first, t, address.get(t), f.where()));
            PushResult pushed = service.addLoadStateTask(address, anchor, repository, output);
            if (pushed != PushResult.PUSHED) {
                found.keySet().forEach(t -> service.hint(first, t, address.get(t), null));
                output.close();
                throw refused(pushed, address);
            }
            OperatorLoad[] self = new OperatorLoad[1];
            next = new OperatorLoad(address, anchor, output, () -> watch(self[0]));
            self[0] = next;
            load = next;
            next.watcher.start();
        }
        ObjectNode root = JSON.createObjectNode().put("status", "queued").put("anchor", anchor.toString());
        ObjectNode ts = root.putObject("threads");
        found.forEach((t, f) -> ts.putObject(t.name()).put("block", address.get(t).hex()).put("height", f.height())
                .put("manifest", f.manifest().toString()).put("sources", f.where().sources().size())
                .put("offeredByMembers", f.offeredByMembers()));
        return root;
    }

    /** Cancels every load and clears the queues; 409 when nothing runs or waits. */
    ObjectNode reset() throws RouteException {
        List<String> busy = new ArrayList<>();
        for (ThreadId t : threads.keySet()) {
            if (service.loading(t)) {
                busy.add(t.name());
            }
        }
        boolean operator;
        synchronized (this) {
            operator = load != null && load.result == null;
        }
        if (busy.isEmpty() && !operator) {
            throw new RouteException(409, "nothing to reset: no load is running or queued");
        }
        service.resetSync();
        ObjectNode root = JSON.createObjectNode().put("reset", true);
        var list = root.putArray("threads");
        busy.forEach(list::add);
        return root;
    }

    /** Per thread: height, role, catch-up, the running load and queue; the operator's newest load. */
    ObjectNode status() {
        ObjectNode root = JSON.createObjectNode().put("node", nodeId);
        ObjectNode ts = root.putObject("threads");
        for (ChainThread c : threads.values()) {
            Head head = c.machine().read(Ledger::head);
            GroupStatus g = c.groupStatus();
            ObjectNode n = ts.putObject(c.id().name()).put("height", head.height()).put("block", head.blockId().hex())
                    .put("stateRoot", head.root().hex()).put("role", g.role()).put("catchingUp", g.catchingUp())
                    .put("pendingLoads", service.pendingTasks(c.id()));
            Optional<LoadProgress> p = service.progress(c.id());
            p.ifPresent(lp -> {
                ObjectNode l = n.putObject("load").put("address", describe(lp.address()))
                        .put("anchor", lp.anchor().toString()).put("bytesDone", lp.bytesDone())
                        .put("bytesTotal", lp.bytesTotal()).put("elapsedMs", lp.elapsed().toMillis());
                var sources = l.putArray("sources");
                lp.sources().forEach(s -> sources.add(s.toString()));
            });
        }
        OperatorLoad l;
        synchronized (this) {
            l = load;
        }
        if (l != null) {
            ObjectNode o = root.putObject("operatorLoad").put("address", describe(l.address))
                    .put("anchor", l.anchor.toString()).put("queued", l.queued.toString());
            LoadResult r = l.result;
            switch (r) {
                case null -> o.put("state", service.progress(l.anchor.thread())
                        .filter(lp -> lp.address().equals(l.address)).isPresent() ? "running" : "queued");
                case LoadResult.Loaded d -> o.put("state", "loaded").put("bytesFetched", d.bytesFetched())
                        .put("elapsedMs", d.elapsed().toMillis()).put("skipped", String.join("; ", d.skipped()));
                case LoadResult.Skipped s -> o.put("state", "skipped").put("reason", s.reason());
                case LoadResult.Failed f -> o.put("state", "failed").put("reason", f.reason());
                case LoadResult.Cancelled c -> o.put("state", "cancelled");
            }
        }
        return root;
    }

    /** Waits for the load's one result, then forgets the sources named for it. */
    private void watch(OperatorLoad l) {
        try {
            while (l.result == null) {
                Optional<LoadResult> r = l.output.poll(Duration.ofSeconds(1));
                if (r.isPresent()) {
                    l.result = r.get();
                } else if (l.output.isClosed()) {
                    l.result = new LoadResult.Cancelled(l.address, l.anchor);
                }
            }
        } catch (InterruptedException e) {
            l.result = new LoadResult.Cancelled(l.address, l.anchor);
        } finally {
            l.address.keySet().forEach(t -> service.hint(l.anchor.thread(), t, l.address.get(t), null));
            l.output.close();
        }
    }

    /** Cancels the operator's load, if one runs, and waits for its watcher. */
    @Override
    public void close() {
        OperatorLoad l;
        synchronized (this) {
            closed = true;
            l = load;
        }
        if (l != null) {
            l.output.close();
            l.watcher.interrupt();
            Uninterruptibly.join(l.watcher);
        }
        locator.close();
    }

    private SortedMap<ThreadId, BlockId> parse(byte[] body) throws RouteException {
        if (body.length == 0) {
            throw RouteException.badRequest("empty body: POST a JSON object of thread to block id, "
                    + "e.g. {\"t0\":\"<64 hex>\"}");
        }
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (IOException e) {
            throw RouteException.badRequest("the body is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (json == null || !json.isObject()) {
            throw RouteException.badRequest("the body must be a JSON object of thread to block id");
        }
        if (json.isEmpty()) {
            throw RouteException.badRequest("name at least one thread and the block to load");
        }
        SortedMap<ThreadId, BlockId> address = new TreeMap<>(java.util.Comparator.comparing(ThreadId::name));
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            ThreadId t = threads.keySet().stream().filter(x -> x.name().equals(e.getKey())).findFirst()
                    .orElseThrow(() -> new RouteException(404, "thread " + abbreviate(e.getKey())
                            + " is not run by this node (threads: " + threads.keySet().stream().map(ThreadId::name)
                            .toList() + ")"));
            if (!e.getValue().isTextual()) {
                throw RouteException.badRequest(t.name() + ": the block id must be a string of 64 hex digits");
            }
            try {
                address.put(t, BlockId.fromHex(e.getValue().asText()));
            } catch (IllegalArgumentException ex) {
                throw RouteException.badRequest(t.name() + ": " + oneLine(ex.getMessage()));
            }
        }
        return address;
    }

    private static RouteException refused(PushResult pushed, SortedMap<ThreadId, BlockId> address) {
        String what = "the load of " + describe(address);
        return switch (pushed) {
            case COMPLETED -> new RouteException(409, what + " was done before");
            case FAILED_BACKOFF -> new RouteException(409, what + " failed moments ago; try again in a few seconds");
            case IN_PROGRESS -> new RouteException(409, what + " is running");
            case DUPLICATE -> new RouteException(409, what + " is queued already");
            case STALE_HEIGHT -> new RouteException(409, "a load of a higher block of thread "
                    + address.firstKey().name() + " is queued");
            case CLOSED -> new RouteException(503, "the state loader is closed");
            case PUSHED -> throw new IllegalStateException("a pushed task is not a refusal");
        };
    }

    /** The base URLs of the other members' stores of the thread's group. */
    private List<URI> memberStores(ChainThread c) {
        List<URI> out = new ArrayList<>();
        for (GroupStatus.Member m : c.group().members()) {
            if (!m.id().equals(nodeId)) {
                out.add(URI.create(m.http().toString().replaceAll("/+$", "") + "/groups/" + c.group().id()));
            }
        }
        return out;
    }

    private static String describe(Map<ThreadId, BlockId> address) {
        StringBuilder b = new StringBuilder("{");
        address.forEach((t, id) -> b.append(b.length() > 1 ? ", " : "").append(t.name()).append('=')
                .append(id.hex(), 0, 12));
        return b.append('}').toString();
    }

    private static String notes(List<String> notes) {
        if (notes.isEmpty()) {
            return "";
        }
        String s = oneLine(String.join("; ", notes));
        return " (" + (s.length() > MAX_NOTES_CHARS ? s.substring(0, MAX_NOTES_CHARS) + "…" : s) + ")";
    }

    private static String abbreviate(String s) {
        String one = oneLine(s);
        return one.length() > 64 ? one.substring(0, 64) + "…" : one;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\r\\n]+", " ");
    }
}
