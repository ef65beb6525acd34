package io.statesync.node;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.statesync.groups.GroupStatus;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.ledger.Account;
import io.statesync.node.ledger.AccountId;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.MalformedException;
import io.statesync.node.ledger.Transaction;
import io.statesync.node.ledger.TransactionCodec;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.server.Route;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/**
 * The node's HTTP API under {@code /node/}:
 * <ul>
 *   <li>{@code POST /node/tx}: submit one encoded transaction; 202 when queued, 400 malformed,
 *       422 rejected with the reason, 404 unknown thread, 503 pool full or no leader;
 *   <li>{@code GET /node/tx/{id}}: what became of a transaction;
 *   <li>{@code GET /node/balance?thread=&account=}: balance and nonce;
 *   <li>{@code GET /node/status}: per thread height, block, state root, role, members, sync progress;
 *   <li>{@code GET /node/cluster}: what a joining node needs (threads, genesis, block settings,
 *       gossip address, members);
 *   <li>{@code GET /node/identity}: this node's member id and gossip node id, so that its group
 *       peers can tie its signed gossip card to its membership (answered while the node starts);
 *   <li>{@code POST /node/fresh-state[?wait=10s]}: a joining node asks for every thread to save its
 *       state at its next block, so that it loads a state close to the head (the seed's "state
 *       sync requested"). Rate-limited, node-wide (see {@link ShareRequests}): it costs the cluster
 *       at most one save per interval however often it is asked.
 * </ul>
 * Transactions sent to a node that does not lead the thread are forwarded to the leader once.
 * Nothing here changes what the node does beyond that: controls are on the admin listener
 * ({@link AdminRoutes}).
 */
final class NodeRoutes implements Route, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most of a leader's answer to a forwarded transaction taken (its id and status: small). */
    private static final int MAX_FORWARDED_ANSWER = 64 * 1024;

    private final String nodeId;
    /** Set once the node object exists; the API answers 503 until then and until its threads run. */
    private volatile Node node;
    private final HttpClient client;

    /** Forwards to leaders over https with {@code tls}'s trust and certificate (null: the JDK's defaults). */
    NodeRoutes(String nodeId, Tls tls) {
        this.nodeId = nodeId;
        this.client = Tls.httpClient(tls).connectTimeout(Duration.ofSeconds(2))
                .executor(java.util.concurrent.Executors.newThreadPerTaskExecutor(
                        Thread.ofVirtual().name("statesync-node-forward-", 0).factory()))
                .build();
    }

    void attach(Node node) {
        this.node = node;
    }

    /** Closes the client that forwards to leaders (and its threads). */
    @Override
    public void close() {
        client.close();
    }

    @Override
    public RouteResponse handle(RouteRequest request) throws RouteException {
        Node n = node;
        if (n != null && request.path().size() == 1 && request.path().get(0).equals("identity")) {
            // Answered while the threads still start: members learn each other's keys from it.
            request.requireMethod("GET", "HEAD");
            return RouteResponse.json(JSON.createObjectNode().put("member", n.config().id())
                    .put("nodeId", n.gossipId() == null ? null : n.gossipId().value()).toString());
        }
        if (n == null || !n.started()) {
            throw new RouteException(503, "node " + nodeId + " is starting; try again shortly");
        }
        var path = request.path();
        String first = path.isEmpty() ? "" : path.get(0);
        switch (first) {
            case "tx" -> {
                if (path.size() == 1) {
                    request.requireMethod("POST");
                    return submit(request);
                }
                request.requireMethod("GET", "HEAD");
                return outcome(path);
            }
            case "balance" -> {
                request.requireMethod("GET", "HEAD");
                return balance(request);
            }
            case "status" -> {
                request.requireMethod("GET", "HEAD");
                return RouteResponse.json(NodeStatus.of(node).toString());
            }
            case "cluster" -> {
                request.requireMethod("GET", "HEAD");
                return RouteResponse.json(cluster(n).toString());
            }
            case "fresh-state" -> {
                request.requireMethod("POST");
                if (path.size() != 1) {
                    throw RouteException.badRequest("use POST /node/fresh-state[?wait=10s]");
                }
                try {
                    return AdminRoutes.share(n, java.util.List.copyOf(n.threads().values()), request);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new RouteException(503, "node " + nodeId + " is stopping");
                }
            }
            case "producer" -> throw new RouteException(404, "the producer controls are on the admin API: POST "
                    + "/admin/producer/{thread}/pause|resume on the admin listener");
            default -> throw new RouteException(404, "not found: the node API has tx, tx/{id}, balance, status, "
                    + "cluster, identity, fresh-state");
        }
    }

    /**
     * What a new node needs to join this cluster ({@code statesync init --join}): the threads, the
     * genesis balances, the block settings every node must share, this node's gossip address, the
     * members of the first thread, and per thread the newest saved state this node holds (block,
     * height, manifest, and the path below this node's URL its store is served at), where a
     * joiner's head start begins before its own gossip runs.
     */
    private static ObjectNode cluster(Node n) {
        NodeConfig c = n.config();
        ObjectNode root = JSON.createObjectNode().put("node", c.id());
        ArrayNode threads = root.putArray("threads");
        c.threads().forEach(t -> threads.add(t.name()));
        root.put("saveStateEvery", c.saveStateEvery());
        root.putObject("producer").put("productionTimeout", c.producer().productionTimeout().toMillis() + "ms")
                .put("maxTransactionsPerBlock", c.producer().maxTransactionsPerBlock())
                .put("maxBlockBytes", c.producer().maxBlockBytes())
                .put("mempoolCapacity", c.producer().mempoolCapacity())
                .put("mempoolBytes", c.producer().mempoolBytes());
        ObjectNode genesis = root.putObject("genesis");
        c.genesis().balances().forEach((account, balance) -> genesis.put(account.hex(), balance));
        if (c.gossipPort() != 0) {
            var adv = c.network().gossipAdvertise();
            root.put("gossip", adv != null ? adv.getHostString() + ":" + adv.getPort() : c.host() + ":" + c.gossipPort());
        }
        ArrayNode members = root.putArray("members");
        n.threads().values().stream().findFirst().ifPresent(t -> t.group().members()
                .forEach(m -> members.addObject().put("id", m.id()).put("http", m.http().toString())));
        ObjectNode saved = root.putObject("savedStates");
        for (var t : n.threads().values()) {
            var group = t.group();
            group.snapshots().stream().filter(s -> s.metadata().containsKey("block") && s.metadata().containsKey("height"))
                    .reduce((a, b) -> b).ifPresent(s -> saved.putObject(t.id().name())
                            .put("block", s.metadata().get("block")).put("height", s.metadata().get("height"))
                            .put("manifest", s.manifest().toString()).put("sharePath", "groups/" + group.id()));
        }
        return root;
    }

    private RouteResponse submit(RouteRequest request) throws RouteException {
        byte[] body = request.body();
        if (body.length == 0) {
            throw RouteException.badRequest("empty body: POST one encoded transaction");
        }
        Transaction tx;
        try {
            tx = TransactionCodec.decode(body);
        } catch (MalformedException e) {
            throw RouteException.badRequest(e.getMessage());
        }
        ChainThread thread = node.thread(tx.thread().name()).orElseThrow(() -> new RouteException(404,
                "thread " + tx.thread().name() + " is not run by this node"));
        GroupStatus g = thread.groupStatus();
        boolean forwarded = request.query().containsKey("forwarded");
        if (!"LEADER".equals(g.role())) {
            if (forwarded || g.leader() == null) {
                throw new RouteException(503, "no leader for thread " + tx.thread().name() + " here; retry");
            }
            return forward(g.leader(), body);
        }
        Optional<String> rejected = thread.admit(tx);
        if (rejected.isPresent()) {
            throw new RouteException(422, "transaction " + tx.id() + " rejected: " + rejected.get());
        }
        return switch (thread.submit(tx, body.length)) {
            case ACCEPTED -> new RouteResponse(202, RouteResponse.JSON,
                    ("{\"id\":\"" + tx.id() + "\",\"status\":\"pending\"}").getBytes());
            case DUPLICATE -> new RouteResponse(200, RouteResponse.JSON,
                    ("{\"id\":\"" + tx.id() + "\",\"status\":\"duplicate\"}").getBytes());
            case FULL -> throw new RouteException(503, "the pool of thread " + tx.thread().name()
                    + " is full; retry later");
        };
    }

    private RouteResponse forward(String leader, byte[] body) throws RouteException {
        URI base = node.memberUrl(leader).orElseThrow(() -> new RouteException(503, "leader " + leader
                + " is not a configured member"));
        try {
            // The leader's whole answer within the deadline: a leader that stalls mid-answer must
            // not hold this request's thread (and its client's connection) for good.
            HttpResponse<byte[]> res = BoundedCall.send(client, HttpRequest.newBuilder(
                            URI.create(base.toString().replaceAll("/+$", "") + "/node/tx?forwarded=1"))
                    .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                    MAX_FORWARDED_ANSWER);
            return new RouteResponse(res.statusCode(), res.headers().firstValue("content-type")
                    .orElse("text/plain; charset=utf-8"), res.body());
        } catch (IOException e) {
            throw new RouteException(503, "cannot reach the leader " + leader + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RouteException(503, "interrupted");
        }
    }

    private RouteResponse outcome(java.util.List<String> path) throws RouteException {
        if (path.size() != 2 || !path.get(1).matches("[0-9a-f]{64}")) {
            throw RouteException.badRequest("use /node/tx/{id} with the 64-hex transaction id");
        }
        for (ChainThread t : node.threads().values()) {
            Optional<String> o = t.mempool().outcome(path.get(1));
            if (o.isPresent()) {
                ObjectNode n = JSON.createObjectNode().put("id", path.get(1)).put("thread", t.id().name())
                        .put("status", o.get());
                return RouteResponse.json(n.toString());
            }
        }
        throw new RouteException(404, "transaction " + path.get(1) + " is not known here");
    }

    private RouteResponse balance(RouteRequest request) throws RouteException {
        String threadName = request.param("thread");
        ChainThread thread = node.thread(threadName).orElseThrow(() -> new RouteException(404,
                "thread " + threadName + " is not run by this node"));
        AccountId account;
        try {
            account = AccountId.fromHex(request.param("account"));
        } catch (IllegalArgumentException e) {
            throw RouteException.badRequest("account: " + e.getMessage());
        }
        Optional<Account> a = thread.machine().read(l -> l.account(account));
        io.statesync.node.ledger.Head head = thread.machine().read(Ledger::head);
        if (a.isEmpty()) {
            throw new RouteException(404, "unknown account " + account.hex() + " on thread " + threadName);
        }
        ObjectNode n = JSON.createObjectNode().put("thread", threadName).put("account", account.hex())
                .put("balance", a.get().balance()).put("nonce", a.get().nonce()).put("height", head.height());
        return RouteResponse.json(n.toString());
    }
}
