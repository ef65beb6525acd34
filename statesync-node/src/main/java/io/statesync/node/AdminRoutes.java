package io.statesync.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.statesync.groups.GroupStatus;
import io.statesync.groups.MembershipException;
import io.statesync.node.chain.ChainThread;
import io.statesync.transfer.server.Route;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import io.statesync.core.units.Durations;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The operator's API under {@code /admin/}, on the admin listener only (loopback by default, a
 * bearer token when opened up; see {@link AdminGate}):
 * <ul>
 *   <li>{@code GET /admin/members}: per thread, the members and their roles;</li>
 *   <li>{@code POST /admin/members/{id}/remove}: removes a member (a dead node) from every thread
 *       that has it; 404 if none has it, 409 if a thread refuses (its last voter) or another
 *       change is in progress, 503 if no leader answers;</li>
 *   <li>{@code POST /admin/leave}: this node leaves the cluster (removed from every thread, then it
 *       stops; its process exits 0).</li>
 *   <li>{@code POST /admin/sync/load} with a JSON body {@code {"t0":"<block id>", ...}}: loads those
 *       saved states, one task for all threads, installing all or none (see {@link SyncControls});</li>
 *   <li>{@code POST /admin/sync/reset}: cancels every load and clears the load queues;</li>
 *   <li>{@code GET /admin/sync/status}: per thread height, role, catch-up, the running load; the
 *       operator's newest load and what became of it;</li>
 *   <li>{@code POST /admin/sync/share[?thread=t0][&wait=10s]}: every thread (or the one named) saves
 *       its state at its next block; rate-limited (see {@link ShareRequests});</li>
 *   <li>{@code POST /admin/producer/{thread}/pause|resume}: stops or restarts block production
 *       of a thread on this node (while it leads).</li>
 * </ul>
 * Every refusal is one line saying why.
 */
final class AdminRoutes implements Route {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String nodeId;
    private volatile Node node;

    AdminRoutes(String nodeId) {
        this.nodeId = nodeId;
    }

    void attach(Node node) {
        this.node = node;
    }

    @Override
    public RouteResponse handle(RouteRequest request) throws RouteException {
        Node n = node;
        if (n == null || !n.started()) {
            throw new RouteException(503, "node " + nodeId + " is starting; try again shortly");
        }
        var path = request.path();
        String first = path.isEmpty() ? "" : path.get(0);
        switch (first) {
            case "members" -> {
                if (path.size() == 1) {
                    request.requireMethod("GET", "HEAD");
                    return RouteResponse.json(members(n).toString());
                }
                if (path.size() != 3 || !path.get(2).equals("remove")) {
                    throw RouteException.badRequest("use POST /admin/members/{id}/remove");
                }
                request.requireMethod("POST");
                String id = path.get(1);
                if (!id.matches("[A-Za-z0-9._-]{1,64}")) {
                    throw RouteException.badRequest("member ids are 1-64 of [A-Za-z0-9._-]");
                }
                if (id.equals(nodeId)) {
                    throw new RouteException(409, "to take this node out of the cluster use POST /admin/leave");
                }
                return changed(n, id, () -> n.removeMember(id));
            }
            case "leave" -> {
                request.requireMethod("POST");
                if (path.size() != 1) {
                    throw RouteException.badRequest("use POST /admin/leave");
                }
                return changed(n, nodeId, n::leave);
            }
            case "sync" -> {
                return sync(n, request);
            }
            case "producer" -> {
                request.requireMethod("POST");
                return producer(n, path);
            }
            default -> throw new RouteException(404, "not found: the admin API has members, "
                    + "members/{id}/remove, leave, sync/load, sync/reset, sync/status, sync/share, "
                    + "producer/{thread}/pause|resume");
        }
    }

    private RouteResponse sync(Node n, RouteRequest request) throws RouteException {
        var path = request.path();
        String what = path.size() == 2 ? path.get(1) : "";
        try {
            switch (what) {
                case "load" -> {
                    request.requireMethod("POST");
                    return new RouteResponse(202, RouteResponse.JSON,
                            n.syncControls().load(request.body()).toString().getBytes(StandardCharsets.UTF_8));
                }
                case "reset" -> {
                    request.requireMethod("POST");
                    return RouteResponse.json(n.syncControls().reset().toString());
                }
                case "status" -> {
                    request.requireMethod("GET", "HEAD");
                    return RouteResponse.json(n.syncControls().status().toString());
                }
                case "share" -> {
                    request.requireMethod("POST");
                    String threadName = request.param("thread", null);
                    List<ChainThread> which = threadName == null ? List.copyOf(n.threads().values())
                            : List.of(thread(n, threadName));
                    return share(n, which, request);
                }
                default -> throw new RouteException(404, "not found: use /admin/sync/load, /reset, /status or /share");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RouteException(503, "node " + nodeId + " is stopping");
        }
    }

    private static ChainThread thread(Node n, String name) throws RouteException {
        return n.thread(name).orElseThrow(() -> new RouteException(404, "thread "
                + (name.length() > 64 ? name.substring(0, 64) + "…" : name) + " is not run by this node"));
    }

    private static RouteResponse producer(Node n, List<String> path) throws RouteException {
        if (path.size() != 3 || !(path.get(2).equals("pause") || path.get(2).equals("resume"))) {
            throw RouteException.badRequest("use /admin/producer/{thread}/pause or /resume");
        }
        ChainThread thread = thread(n, path.get(1));
        if (path.get(2).equals("pause")) {
            thread.producer().pause();
        } else {
            thread.producer().resume();
        }
        ObjectNode answer = JSON.createObjectNode().put("thread", path.get(1)).put("producer", path.get(2));
        answer.putArray("warnings");
        return RouteResponse.json(answer.toString());
    }

    /**
     * Asks {@code which} threads to save their state at their next block, waiting up to the
     * request's {@code wait} for the saves; shared with the node API's {@code fresh-state}.
     */
    static RouteResponse share(Node n, List<ChainThread> which, RouteRequest request)
            throws RouteException, InterruptedException {
        Duration wait = Duration.ZERO;
        String waitText = request.param("wait", null);
        if (waitText != null) {
            try {
                wait = Durations.parse(waitText);
            } catch (IllegalArgumentException e) {
                throw RouteException.badRequest("wait: " + e.getMessage());
            }
            if (wait.isNegative() || wait.compareTo(ShareRequests.MAX_WAIT) > 0) {
                throw RouteException.badRequest("wait: at most " + ShareRequests.MAX_WAIT.toSeconds() + "s");
            }
        }
        ShareRequests.Answer a = n.shareRequests().request(which, wait);
        return new RouteResponse(a.status(), RouteResponse.JSON, a.body().toString().getBytes(StandardCharsets.UTF_8));
    }

    private interface Change {
        Map<String, String> run() throws MembershipException;
    }

    private static RouteResponse changed(Node n, String member, Change change) throws RouteException {
        Map<String, String> done;
        try {
            done = change.run();
        } catch (MembershipException e) {
            int status = switch (e.kind()) {
                case NOT_A_MEMBER -> 404;
                case REFUSED, CONFLICT -> 409;
                case UNAVAILABLE -> 503;
            };
            throw new RouteException(status, e.getMessage());
        }
        ObjectNode root = JSON.createObjectNode().put("member", member);
        ObjectNode threads = root.putObject("threads");
        done.forEach(threads::put);
        return RouteResponse.json(root.toString());
    }

    static ObjectNode members(Node n) {
        ObjectNode root = JSON.createObjectNode().put("node", n.config().id());
        ObjectNode threads = root.putObject("threads");
        for (ChainThread t : n.threads().values()) {
            var list = threads.putArray(t.id().name());
            for (GroupStatus.Member m : t.group().members()) {
                list.addObject().put("id", m.id()).put("role", m.role().name().toLowerCase(Locale.ROOT))
                        .put("http", m.http().toString()).put("raft", m.raft()).put("index", m.index());
            }
        }
        return root;
    }
}
