package io.statesync.node;

import io.statesync.core.concurrent.Uninterruptibly;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.discovery.Discovery;
import io.statesync.discovery.card.NodeIdentity;
import io.statesync.discovery.membership.MembershipConfig;
import io.statesync.discovery.membership.ScaleCubeMembership;
import io.statesync.groups.Group;
import io.statesync.groups.GroupConfig;
import io.statesync.groups.GroupHealth;
import io.statesync.groups.MembershipException;
import io.statesync.groups.GroupHost;
import io.statesync.groups.GroupMember;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.chain.LedgerMachine;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.producer.ProducerFailedException;
import io.statesync.node.statesync.JoinPrefetch;
import io.statesync.node.statesync.LoaderConfig;
import io.statesync.node.statesync.StateSyncService;
import io.statesync.node.statesync.SyncTimeline;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.ServerConfig;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running node: its HTTP server (API, metrics, snapshots, catch-up), gossip, and one
 * {@link ChainThread} per configured thread, each the member of its replicated group. A
 * watchdog touches every producer; a producer that ended on its own fails the node.
 */
public final class Node implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Node.class);
    /** The largest request body the node API reads: a transaction with its largest value fits. */
    static final int MAX_TX_BYTES = 128 * 1024;
    /** The largest request body the admin API reads: a load names a block id per thread. */
    static final int MAX_ADMIN_BYTES = 16 * 1024;
    /** Open connections the admin listener takes: operators and their scripts, not the public. */
    private static final int ADMIN_CONNECTIONS = 32;
    /** How long a joiner waits for the fresh save it asked for before it goes on without it. */
    private static final Duration FRESH_STATE_WAIT = Duration.ofSeconds(20);
    /** How often the watchdog touches the producers (as the seed's execution loop did). */
    private static final long WATCHDOG_MILLIS = 330;

    private final NodeConfig config;
    private final PrometheusMeterRegistry registry;
    private final FileShareServer http;
    /** The admin API's own listener ({@code admin.host}/{@code admin.port}). */
    private final FileShareServer adminHttp;
    private final GroupHost groups;
    private final Discovery discovery;
    private final Map<ThreadId, ChainThread> threads = new LinkedHashMap<>();
    private final List<LedgerMachine> machines = new ArrayList<>();
    private final List<AutoCloseable> mounts = new ArrayList<>();
    private final Thread watchdog;
    /** Per-thread, build and JVM gauges; registered once the threads run. */
    private volatile NodeMetrics nodeMetrics;
    private final StateSyncService stateSync;
    /** A new node's head start (on its first start with join URLs), or null; closed once caught up. */
    private final JoinPrefetch prefetch;
    private final SyncControls syncControls;
    private final ShareRequests shareRequests;
    private final CountDownLatch failed = new CountDownLatch(1);
    private volatile String failure;
    /** Set while this node removes itself from its groups; the watchdog then does not count that as failing. */
    private volatile boolean leaving;
    private volatile boolean left;
    /** Set once every thread runs; until then the API answers 503. */
    private volatile boolean started;

    private Node(NodeConfig config, PrometheusMeterRegistry registry, FileShareServer http, FileShareServer adminHttp,
                 GroupHost groups, Discovery discovery, SyncTimeline timeline, JoinPrefetch prefetch) {
        this.config = config;
        this.registry = registry;
        this.http = http;
        this.adminHttp = adminHttp;
        this.groups = groups;
        this.discovery = discovery;
        this.stateSync = new StateSyncService(LoaderConfig.DEFAULT.withMaxTries(config.sync().maxTries())
                .withRetryWait(config.sync().retryWait()).withDeadline(config.sync().deadline())
                .withStaticStorages(config.sync().staticStorages()).withFetch(config.sync().fetch())
                        .withTls(config.tls()),
                new StateSyncService.Policy(config.sync().importMinDistance(), config.sync().trustedKeys()),
                discovery, registry, timeline, prefetch);
        this.prefetch = prefetch;
        this.watchdog = Thread.ofPlatform().name("statesync-node-watchdog").daemon(true).unstarted(this::watch);
        // Both read the thread map, which startThreads fills before the API opens.
        this.syncControls = new SyncControls(config.id(), threads, stateSync, config.dataDir().resolve("loads"));
        this.shareRequests = new ShareRequests(threads, config.sync().shareInterval(), registry);
    }

    /** Starts a node; on failure everything started so far is closed again. */
    public static Node start(NodeConfig config) throws IOException, InterruptedException {
        // First, so that a bad token file stops the node before anything opens.
        AdminToken token = config.admin().tokenFile() == null ? null : AdminToken.read(config.admin().tokenFile());
        Files.createDirectories(config.dataDir());
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        SyncTimeline timeline = SyncTimeline.ofThisProcess(registry);
        ContentStore store = ContentStore.open(config.dataDir().resolve("store"));
        ServerConfig server = ServerConfig.loopback().withHost(config.host()).withPort(config.httpPort())
                .withMaxConnections(config.httpLimits().maxConnections())
                .withMaxConnectionsPerAddress(config.httpLimits().maxConnectionsPerAddress());
        if (config.httpRateLimit() > 0) {
            server = server.withMaxBytesPerSecond(config.httpRateLimit());
        }
        if (config.tls() != null) {
            // The node port only: the admin listener below stays plain HTTP (loopback by default).
            server = server.withTls(config.tls());
        }
        FileShareServer http = FileShareServer.start(server, store, registry);
        FileShareServer adminHttp;
        try {
            adminHttp = FileShareServer.startRoutesOnly(ServerConfig.loopback().withHost(config.admin().host())
                    .withPort(config.admin().port()).withMaxConnections(ADMIN_CONNECTIONS), registry);
        } catch (IOException e) {
            http.close();
            registry.close();
            throw new IOException("admin API: " + e.getMessage(), e);
        } catch (InterruptedException | RuntimeException e) {
            http.close();
            registry.close();
            throw e;
        }
        timeline.mark(SyncTimeline.Phase.API);
        // The API is there from the first moment the port answers: 503 "starting" while gossip and
        // the threads open (a state install can take a while), which clients retry, rather than a
        // 404 for the whole API.
        NodeRoutes routes = new NodeRoutes(config.id(), config.tls());
        AdminRoutes adminRoutes = new AdminRoutes(config.id());
        AutoCloseable api = null;
        AutoCloseable admin = null;
        Node node = null;
        Discovery discovery = null;
        JoinPrefetch prefetch = null;
        try {
            http.healthCheck(() -> "starting");
            api = http.mount("node", null, routes, MAX_TX_BYTES);
            admin = adminHttp.mount("admin", null, new AdminGate(adminRoutes, token, registry), MAX_ADMIN_BYTES);
            // Not a bare 404 for someone who used to find the admin API here.
            http.mount("admin", null, request -> {
                throw RouteException.notFound("the admin API listens on its own address (admin.host and admin.port "
                        + "in the node's configuration), not on this port");
            }); // holds nothing: goes with the server
            http.mountRoot(new StatusPage(config.id(), routes)); // holds nothing: goes with the server
            boolean firstStart = !Files.exists(config.dataDir().resolve("threads"));
            if (firstStart && !config.join().isEmpty()) {
                // Before gossip, which takes seconds to start: the join nodes' API answers now.
                prefetch = JoinPrefetch.open(config.dataDir().resolve("prefetch"), config.join(), config.sync().fetch(),
                        config.tls(),
                        timeline, registry);
                prefetch.start(config.threads());
            }
            discovery = config.gossipPort() == 0 ? null : startDiscovery(config, advertised(config, http), registry);
            if (discovery != null) {
                timeline.mark(SyncTimeline.Phase.GOSSIP);
            }
            node = new Node(config, registry, http, adminHttp, GroupHost.on(http, registry, config.tls()), discovery, timeline,
                    prefetch);
            node.mounts.add(routes);
            node.mounts.add(api);
            node.mounts.add(admin);
            routes.attach(node);
            adminRoutes.attach(node);
            http.healthCheck(node::healthProblem);
            if (firstStart && !config.join().isEmpty() && config.sync().freshStateOnJoin()) {
                requestFreshState(config);
            }
            node.resetLoadWork();
            node.startThreads();
            timeline.mark(SyncTimeline.Phase.GROUPS);
            node.nodeMetrics = new NodeMetrics(registry, node.threads, config.dataDir());
            node.started = true;
            node.watchdog.start();
            log.info("node {} serving {} with threads {}; admin API at {}{}", config.id(), http.uri(),
                    node.threads.keySet(), adminHttp.uri(), token == null ? "" : " (token required)");
            return node;
        } catch (Throwable e) {
            // Errors too (a native library that does not load): nothing started may outlive this.
            if (node != null) {
                node.close();
            } else {
                if (api != null) {
                    closeQuietly(api);
                }
                if (admin != null) {
                    closeQuietly(admin);
                }
                closeQuietly(routes);
                if (prefetch != null) {
                    prefetch.close();
                }
                if (discovery != null) {
                    closeQuietly(discovery);
                }
                adminHttp.close();
                http.close();
                registry.close();
            }
            throw e;
        }
    }

    /**
     * A joiner's first start, with {@code sync.freshStateOnJoin}: asks a node it joins through to
     * have every thread save its state at the next block (rate-limited there), and waits a little
     * for it, so the state it loads next is close to the head. Optional and best-effort: a refusal
     * (a save was made on request moments ago, which is as fresh) or no answer is logged and the
     * join goes on with the newest saved state there is.
     */
    private static void requestFreshState(NodeConfig config) throws InterruptedException {
        try (java.net.http.HttpClient client = Tls.httpClient(config.tls())
                .connectTimeout(Duration.ofSeconds(2)).build()) {
            for (URI via : config.join()) {
                URI uri = URI.create(via.toString().replaceAll("/+$", "") + "/node/fresh-state?wait="
                        + FRESH_STATE_WAIT.toSeconds() + "s");
                try {
                    java.net.http.HttpResponse<byte[]> res = BoundedCall.send(client, java.net.http.HttpRequest
                            .newBuilder(uri).timeout(FRESH_STATE_WAIT.plusSeconds(10))
                            .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(), 64 * 1024);
                    log.info("node {}: asked {} for a fresh saved state before joining: {} {}", config.id(), via,
                            res.statusCode(), new String(res.body(), java.nio.charset.StandardCharsets.UTF_8).strip());
                    if (res.statusCode() / 100 == 2 || res.statusCode() == 429) {
                        return;
                    }
                } catch (java.io.IOException e) {
                    log.info("node {}: {} did not take the request for a fresh saved state: {}", config.id(), via,
                            e.toString());
                }
            }
        }
    }

    /** Removes what an operator's load cut short by a crash left behind. */
    private void resetLoadWork() throws IOException {
        Path work = config.dataDir().resolve("loads");
        io.statesync.core.files.FileTrees.deleteRecursively(work);
        Files.createDirectories(work);
    }

    /**
     * The URL this node's gossip card names: {@code http.advertise}, or the bound address when the
     * port was picked at start (port 0, tests).
     */
    private static URI advertised(NodeConfig config, FileShareServer http) {
        URI a = config.network().httpAdvertise();
        return a.getPort() == 0 ? http.uri() : a;
    }

    private static Discovery startDiscovery(NodeConfig config, URI httpUri, PrometheusMeterRegistry registry)
            throws IOException {
        NodeIdentity identity = NodeIdentity.loadOrCreate(config.dataDir().resolve("identity.key"));
        List<InetSocketAddress> seeds = config.gossipSeeds().stream()
                .map(a -> new InetSocketAddress(a.getHostString(), a.getPort())).toList();
        MembershipConfig timings = switch (config.network().gossipProfile()) {
            case LOOPBACK -> MembershipConfig.loopback();
            case LAN -> MembershipConfig.lan();
            case WAN -> MembershipConfig.wan();
        };
        MembershipConfig mc = timings.withHost(config.host()).withPort(config.gossipPort()).withSeeds(seeds)
                .withAdvertise(config.network().gossipAdvertise() == null ? null : new InetSocketAddress(
                        config.network().gossipAdvertise().getHostString(),
                        config.network().gossipAdvertise().getPort()));
        ScaleCubeMembership membership;
        try {
            membership = ScaleCubeMembership.start(mc, registry);
        } catch (IllegalStateException e) {
            // A bad bind or an unresolvable host is the operator's to fix: one line, no stack.
            String hint = causedBy(e, java.net.UnknownHostException.class)
                    ? " (this host's own name does not resolve: add it to /etc/hosts, or set gossip.advertise)" : "";
            throw new IOException(e.getMessage() + hint, e);
        }
        try {
            return Discovery.start(Discovery.DiscoveryConfig.serving(List.of(httpUri),
                    config.threads().stream().map(ThreadId::name).toList()), identity, membership, registry);
        } catch (RuntimeException e) {
            membership.close();
            throw e;
        }
    }

    /**
     * Starts every thread at once, each on its own virtual thread: a group's start is mostly
     * opening its ledger and Ratis building its server (seconds on a busy machine), so threads
     * that waited for each other added their start times. Returns when all started; if one failed, the
     * first failure is thrown once the others have ended (those started are closed with the node).
     */
    private void startThreads() throws IOException, InterruptedException {
        int n = config.threads().size();
        List<java.util.concurrent.Future<ChainThread>> starts = new ArrayList<>();
        try (var ex = java.util.concurrent.Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-thread-start-", 0).factory())) {
            for (int i = 0; i < n; i++) {
                int offset = i;
                starts.add(ex.submit(() -> startThread(offset)));
            }
        }
        Throwable first = null;
        for (var f : starts) {
            try {
                ChainThread t = f.get();
                threads.put(t.id(), t);
            } catch (java.util.concurrent.ExecutionException e) {
                first = first == null ? e.getCause() : first;
            }
        }
        switch (first) {
            case null -> { }
            case IOException e -> throw e;
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            default -> throw new IOException(first.getMessage(), first);
        }
    }

    /** Opens the ledger of the configured thread at {@code offset}, starts its group and its producer. */
    private ChainThread startThread(int offset) throws IOException {
        ThreadId t = config.threads().get(offset);
        List<GroupMember> members = config.members().stream().map(m -> new GroupMember(m.id(),
                new InetSocketAddress(m.raft().getHostString(), m.raft().getPort() + offset), m.http())).toList();
        Path dir = config.dataDir().resolve("threads").resolve(t.name());
        LedgerMachine machine = new LedgerMachine(t, dir.resolve("ledger"), config.genesis(),
                config.saveStateEvery());
        synchronized (machines) {
            machines.add(machine);
        }
        GroupConfig gc = GroupConfig.of(t.name(), config.id(), members, dir.resolve("group"),
                        stateSync.strategyFor(t, machine))
                .withSnapshotEvery(Math.max(64, 2 * Math.max(1, config.saveStateEvery())))
                .withRetention(config.sync().retainSnapshots(), 10_000)
                // Ratis purges only closed segments: a few blocks per segment lets it purge soon.
                .withRaftSegmentBytes(Math.max(256L << 10, 4 * config.producer().maxBlockBytes()))
                // A joiner that installs one snapshot while the next is being taken goes on from the log.
                .withRaftLogKept(4 * Math.max(16, config.saveStateEvery()))
                .withStallTimeout(config.sync().stallTimeout())
                .withJoinVia(config.join());
        Group group;
        try {
            group = groups.start(gc, machine);
        } catch (io.statesync.groups.GroupMismatchException e) {
            throw new IOException(e.getMessage(), e);
        }
        stateSync.attach(t, group);
        group.onSnapshot(saved -> stateSync.saveStateForSharing(t, group, saved));
        // Snapshots recorded while the group opened were not heard; share the ones it holds.
        group.snapshots().forEach(saved -> stateSync.saveStateForSharing(t, group, saved));
        return ChainThread.start(machine, group, config.producer(), config.id(), registry, Clock.systemUTC());
    }

    public NodeConfig config() {
        return config;
    }

    public URI uri() {
        return http.uri();
    }

    /** The admin API's base URL: {@code http://admin.host:port}. */
    public URI adminUri() {
        return adminHttp.uri();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public Map<ThreadId, ChainThread> threads() {
        return threads;
    }

    public Optional<ChainThread> thread(String name) {
        return threads.entrySet().stream().filter(e -> e.getKey().name().equals(name)).map(Map.Entry::getValue)
                .findFirst();
    }

    /** The HTTP base URL of a member, by id: from the live membership of any thread, else the configured one. */
    public Optional<URI> memberUrl(String memberId) {
        for (ChainThread t : threads.values()) {
            Optional<URI> live = t.group().members().stream().filter(m -> m.id().equals(memberId))
                    .map(io.statesync.groups.GroupStatus.Member::http).findFirst();
            if (live.isPresent()) {
                return live;
            }
        }
        return config.members().stream().filter(m -> m.id().equals(memberId)).map(NodeConfig.Member::http)
                .findFirst();
    }

    /** This node's gossip identity (the fingerprint of its key, which signs its card), or null without gossip. */
    public io.statesync.discovery.card.NodeId gossipId() {
        return discovery == null ? null : discovery.id();
    }

    /** The node's gossip, or null without it (tests read its catalog). */
    Discovery discovery() {
        return discovery;
    }

    /** The node's state-sync service: saved states, load tasks, reset. */
    public StateSyncService stateSync() {
        return stateSync;
    }

    /** The operator's load, reset and status of the state-sync service (the admin API's). */
    SyncControls syncControls() {
        return syncControls;
    }

    /** Saves on request (the admin API's {@code sync/share}). */
    ShareRequests shareRequests() {
        return shareRequests;
    }

    /** Whether every thread has started (the API answers 503 until then). */
    boolean started() {
        return started;
    }

    /** Why the node failed (a producer ended unexpectedly, a thread halted), or null while it is healthy. */
    public String failure() {
        return failure;
    }

    /**
     * Why the node is not healthy now: it failed, or a thread halted or stopped following its
     * group; null when every thread follows. {@code /health} answers 503 with this.
     */
    public String healthProblem() {
        if (failure != null) {
            return failure;
        }
        if (!started) {
            return "starting";
        }
        for (ChainThread t : threads.values()) {
            if (t.machine().halted() != null) {
                return "thread " + t.id().name() + " halted";
            }
            GroupHealth h = t.group().health();
            if (!h.ok()) {
                return "thread " + t.id().name() + " " + h.status().name().toLowerCase(java.util.Locale.ROOT) + ": "
                        + h.reason();
            }
        }
        return null;
    }

    /** Waits until the node fails or the timeout passes; returns the failure or null. */
    public String awaitFailure(long timeout, TimeUnit unit) throws InterruptedException {
        failed.await(timeout, unit);
        return failure;
    }

    /** Whether the node left its cluster ({@link #leave}); it then ends without a failure. */
    public boolean left() {
        return left;
    }

    /**
     * Removes a member from every thread's group that has it (a dead node, or one being retired).
     * Returns, per thread, "removed" or "not a member".
     *
     * @throws MembershipException if no thread has the member (NOT_A_MEMBER), or a removal was refused or
     *     could not be made; threads done before it stay done, and the call can be repeated
     */
    public Map<String, String> removeMember(String memberId) throws MembershipException {
        Map<String, String> out = new LinkedHashMap<>();
        for (ChainThread t : threads.values()) {
            boolean member = t.group().members().stream().anyMatch(m -> m.id().equals(memberId));
            if (member) {
                t.group().removeMember(memberId);
            }
            out.put(t.id().name(), member ? "removed" : "not a member");
        }
        if (!out.containsValue("removed")) {
            throw new MembershipException(MembershipException.Kind.NOT_A_MEMBER, "'" + memberId
                    + "' is not a member of any thread of node " + config.id());
        }
        return out;
    }

    /**
     * Leaves the cluster gracefully: removes this node from every thread's group (through each
     * leader; a leader hands over), then ends the node like a stop. A refused removal (this node is
     * a thread's last voter) leaves the node running, as a member of the threads not yet left.
     */
    public Map<String, String> leave() throws MembershipException {
        leaving = true;
        try {
            Map<String, String> out = removeMember(config.id());
            left = true;
            log.info("node {} left the cluster: {}", config.id(), out);
            failed.countDown();
            return out;
        } finally {
            leaving = left;
        }
    }

    private void watch() {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(WATCHDOG_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
            for (ChainThread t : threads.values()) {
                String halted = t.machine().halted();
                if (halted != null) {
                    fail("thread " + t.id().name() + " halted: " + halted);
                }
                GroupHealth health = t.group().health();
                if (health.status() == GroupHealth.Status.FAILED && !leaving) {
                    fail("thread " + t.id().name() + " cannot follow its group: " + health.reason());
                }
                try {
                    t.producer().touch();
                } catch (ProducerFailedException e) {
                    fail(e.getMessage());
                }
            }
            if (threads.values().stream().allMatch(Node::caughtUp)) {
                stateSync.timeline().mark(SyncTimeline.Phase.CAUGHT_UP);
                if (prefetch != null) {
                    prefetch.close(); // its chunks live on where the loads adopted them
                }
            }
            try {
                stateSync.withdrawPruned(threads.values().stream().map(ChainThread::group).toList());
            } catch (RuntimeException e) {
                // Gossip trouble must not end the watchdog: it also guards the producers.
                log.warn("node {}: cannot update the advertised snapshots: {}", config.id(), e.toString());
            }
        }
    }

    /** A voting member that has no catch-up running and applies what its group commits. */
    private static boolean caughtUp(ChainThread t) {
        io.statesync.groups.GroupStatus g = t.groupStatus();
        return !g.catchingUp() && (g.joining() == null || "MEMBER".equals(g.joining())) && g.health().ok()
                && ("LEADER".equals(g.role()) || "FOLLOWER".equals(g.role()));
    }

    private void fail(String reason) {
        if (failure == null) {
            failure = reason;
            log.error("node {} failed: {}", config.id(), reason);
            failed.countDown();
        }
    }

    @Override
    public void close() {
        watchdog.interrupt();
        Uninterruptibly.join(watchdog);
        syncControls.close();
        for (ChainThread t : threads.values()) {
            t.close();
        }
        // The server before the routes: a client must see the node go away (connection refused,
        // which it retries elsewhere), never a 404 for the API in between.
        adminHttp.close();
        http.close();
        for (AutoCloseable m : mounts) {
            closeQuietly(m);
        }
        closeQuietly(groups);
        closeQuietly(stateSync);
        if (prefetch != null) {
            prefetch.close();
        }
        for (LedgerMachine m : machines) {
            m.close();
        }
        if (discovery != null) {
            closeQuietly(discovery);
        }
        if (nodeMetrics != null) {
            nodeMetrics.close();
        }
        registry.close();
    }

    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            log.warn("closing {} failed: {}", c, e.toString());
        }
    }
}
