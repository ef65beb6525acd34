package io.statesync.groups;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.files.FileTrees;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.Ports;
import io.statesync.groups.sync.StateSync;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/** N members of one group on loopback, each with its own HTTP server, Ratis server and data directory. */
final class TestCluster implements AutoCloseable {
    final Path root;
    final List<GroupMember> members = new ArrayList<>();
    final Node[] nodes;
    private final java.util.function.IntFunction<StateSync> syncs;
    private final UnaryOperator<GroupConfig> tweak;
    /** Makes each member's state machine, at every start. */
    private java.util.function.IntFunction<KvMachine> machines = i -> new KvMachine();

    static final class Node {
        final int index;
        final GroupMember member;
        final Path dir;
        FileShareServer http;
        PrometheusMeterRegistry registry;
        GroupHost host;
        Group group;
        KvMachine machine;
        /**
         * The ports the node's servers listen on: the advertised ones ({@link #member}) unless
         * {@link TestCluster#listenBehind} moved them, so that a proxy can take the advertised ones.
         */
        int raftListen;
        int httpListen;

        Node(int index, GroupMember member, Path dir) {
            this.index = index;
            this.member = member;
            this.dir = dir;
            this.raftListen = member.raft().getPort();
            this.httpListen = member.http().getPort();
        }

        boolean running() {
            return group != null;
        }
    }

    TestCluster(Path root, int n, StateSync sync, UnaryOperator<GroupConfig> tweak) throws IOException {
        this(root, n, i -> sync, tweak);
    }

    /** Each member gets its own strategy instance (equal signatures), so a test can fault one. */
    TestCluster(Path root, int n, java.util.function.IntFunction<StateSync> syncs, UnaryOperator<GroupConfig> tweak)
            throws IOException {
        this.root = root;
        this.syncs = syncs;
        this.tweak = tweak;
        nodes = new Node[n];
        for (int i = 0; i < n; i++) {
            int raft = Ports.free();
            int http = Ports.free();
            GroupMember m = new GroupMember("n" + i, new InetSocketAddress("127.0.0.1", raft),
                    URI.create("http://127.0.0.1:" + http));
            members.add(m);
            nodes[i] = new Node(i, m, root.resolve("n" + i));
        }
    }

    /** Uses {@code factory} for the members' state machines from now on. */
    TestCluster machines(java.util.function.IntFunction<KvMachine> factory) {
        this.machines = factory;
        return this;
    }

    /** Members from this index on are not founders: they join through the founders (see {@link #founders}). */
    private int founders = Integer.MAX_VALUE;

    /** Only the first {@code k} members found the group; the others join it through them when started. */
    TestCluster founders(int k) {
        this.founders = k;
        return this;
    }

    /**
     * Node {@code i}'s servers listen on fresh ports from now on, while every member list still
     * names it at its advertised ports, where the test puts {@link TcpProxy proxies} to the new
     * ones. {@code raft}: its consensus server moves too (its own list then names it at the port it
     * binds, so a replicated configuration names it behind the proxy only if another member wrote
     * it: start it after the others have a leader); otherwise only its HTTP server moves.
     */
    TestCluster listenBehind(int i, boolean raft) throws IOException {
        nodes[i].httpListen = Ports.free();
        if (raft) {
            nodes[i].raftListen = Ports.free();
        }
        return this;
    }

    GroupConfig config(int i) {
        boolean joins = i >= founders;
        List<GroupMember> list = joins ? List.of(members.get(i)) : members.subList(0, Math.min(founders, members.size()));
        Node self = nodes[i];
        if (self.raftListen != self.member.raft().getPort()) {
            // Ratis binds the address its own entry names; every other member's list keeps the proxy's.
            GroupMember bound = new GroupMember(self.member.id(), new InetSocketAddress("127.0.0.1", self.raftListen),
                    self.member.http());
            list = list.stream().map(m -> m.id().equals(bound.id()) ? bound : m).toList();
        }
        GroupConfig c = GroupConfig.of("test", "n" + i, list, nodes[i].dir.resolve("data"), syncs.apply(i))
                .withJoinVia(joins ? members.subList(0, founders).stream().map(GroupMember::http).toList() : List.of())
                .withElectionTimeout(Duration.ofMillis(400))
                .withRetryBackoffMax(Duration.ofSeconds(1))
                .withSessionTimeout(Duration.ofSeconds(60))
                .withRaftSegmentBytes(16 * 1024)
                .withSnapshotEvery(500);
        return tweak.apply(c);
    }

    TestCluster startAll() throws Exception {
        List<CompletableFuture<Void>> starts = new ArrayList<>();
        int n = Math.min(founders, nodes.length);
        for (int i = 0; i < n; i++) {
            startHttp(i);
        }
        for (int i = 0; i < n; i++) {
            int k = i;
            starts.add(CompletableFuture.runAsync(() -> {
                try {
                    startGroup(k);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        for (CompletableFuture<Void> f : starts) {
            f.get(60, TimeUnit.SECONDS);
        }
        return this;
    }

    void startHttp(int i) throws Exception {
        Node n = nodes[i];
        n.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        n.http = FileShareServer.start(ServerConfig.loopback().withPort(n.httpListen),
                ContentStore.open(n.dir.resolve("share")), n.registry);
        n.host = GroupHost.on(n.http, n.registry);
    }

    void startGroup(int i) throws Exception {
        startGroup(i, config(i), machines.apply(i));
    }

    void startGroup(int i, GroupConfig config, KvMachine machine) throws Exception {
        Node n = nodes[i];
        n.machine = machine;
        n.group = n.host.start(config, machine);
    }

    /** Starts a node that was stopped: HTTP server and group. */
    void start(int i) throws Exception {
        if (nodes[i].http == null) {
            startHttp(i);
        }
        startGroup(i);
    }

    /** Stops the group and the HTTP server of a node (its data stays). */
    void stop(int i) throws Exception {
        Node n = nodes[i];
        if (n.group != null) {
            n.group.close();
            n.group = null;
        }
        if (n.host != null) {
            n.host.close();
            n.host = null;
        }
        if (n.http != null) {
            n.http.close();
            n.http = null;
        }
    }

    void wipe(int i) throws IOException {
        FileTrees.deleteRecursively(nodes[i].dir.resolve("data"));
    }

    Node leader() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (Node n : nodes) {
                if (n.running() && n.group.status().role().equals("LEADER")) {
                    return n;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no leader within 30 s");
    }

    /** Submits {@code count} puts through the leader, from 8 writers each waiting for its command to commit. */
    void write(String prefix, int count) throws Exception {
        write(prefix, count, 0);
    }

    /**
     * As {@link #write(String, int)}, with values of {@code valueBytes} pseudo-random bytes (seeded by
     * the key, so every run writes the same state) when it is positive: a state of many distinct
     * snapshot chunks.
     */
    void write(String prefix, int count, int valueBytes) throws Exception {
        Node via = leader();
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        List<CompletableFuture<Void>> writers = new ArrayList<>();
        try (var ex = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int w = 0; w < 8; w++) {
                writers.add(CompletableFuture.runAsync(() -> {
                    for (int i; (i = next.getAndIncrement()) < count; ) {
                        try {
                            byte[] value;
                            if (valueBytes > 0) {
                                value = new byte[valueBytes];
                                new java.util.SplittableRandom((prefix + i).hashCode()).nextBytes(value);
                            } else {
                                value = ("value-" + prefix + i).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                            }
                            via.group.submitBlocking(KvMachine.put(prefix + i, value));
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }
                }, ex));
            }
            for (CompletableFuture<Void> f : writers) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
    }

    /** The voters of {@code g}'s configuration as it knows it (listeners left out), sorted. */
    static List<String> voters(Group g) {
        return g.members().stream().filter(m -> m.role() != GroupStatus.Role.LISTENER).map(GroupStatus.Member::id)
                .sorted().toList();
    }

    /** The membership changes of {@code kind} counted in {@code n}'s registry. */
    static double changes(Node n, String kind) {
        io.micrometer.core.instrument.Counter counter = n.registry.find("statesync.groups.membership.changes")
                .tag("change", kind).counter();
        return counter == null ? 0 : counter.count();
    }

    /** Waits until every running member applied the same index and holds the same digest. */
    void awaitConverged(Duration timeout) {
        Await.until(() -> "every running member at one index and digest" + describe(), timeout, () -> {
            String digest = null;
            long index = -1;
            for (Node n : nodes) {
                if (!n.running()) {
                    continue;
                }
                String d = n.machine.digest();
                long a = n.group.applied().index();
                if (digest == null) {
                    digest = d;
                    index = a;
                } else if (!digest.equals(d) || index != a) {
                    return false;
                }
            }
            return true;
        });
    }

    String describe() {
        StringBuilder b = new StringBuilder();
        for (Node n : nodes) {
            b.append("\n  ").append(n.member.id()).append(": ");
            b.append(n.running() ? n.group.status() + " digest=" + n.machine.digest() : "stopped");
        }
        return b.toString();
    }

    @Override
    public void close() throws Exception {
        for (int i = 0; i < nodes.length; i++) {
            try {
                stop(i);
            } catch (Exception e) {
                // Closing the rest matters more.
            }
        }
    }
}
