package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.transfer.http.BoundedCall;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The demo's cluster: node configurations on free loopback ports, and each node as a separate
 * JVM process ({@code statesync node --config FILE}) with its log in the work directory. The
 * owner closes it, which stops every child: SIGTERM, then a kill after a grace period.
 */
final class DemoCluster implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most of a child node's answer the demo reads (its status, metrics, a transaction's outcome). */
    static final int MAX_ANSWER_BYTES = 16 << 20;
    /**
     * A child stopped by SIGTERM gets this long to close before it is killed; shorter than the
     * grace a Ctrl-C gives this process ({@link StopOnShutdown#GRACE}), so the kill still happens.
     */
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    /** How long a running node may leave its status unanswered before the demo gives up on it. */
    static final Duration UNRESPONSIVE = Duration.ofSeconds(30);

    /** One node's place in the cluster. */
    record NodeSpec(String id, int httpPort, int gossipPort, int raftBase, int adminPort, Path config, Path dataDir,
                    Path log) {
        URI url() {
            return URI.create("http://127.0.0.1:" + httpPort);
        }

        URI adminUrl() {
            return plan().adminUrl();
        }

        ClusterConfigs.Plan plan() {
            return new ClusterConfigs.Plan(id, "127.0.0.1", httpPort, gossipPort, raftBase, adminPort,
                    dataDir.toString());
        }
    }

    private final Path work;
    private final List<NodeSpec> specs;
    /** Children by node, in launch order. */
    private final java.util.Map<NodeSpec, Process> processes = new java.util.LinkedHashMap<>();
    private final HttpClient http;

    private final String sync;
    private final long rateLimit;

    private DemoCluster(Path work, List<NodeSpec> specs, HttpClient http, String sync, long rateLimit) {
        this.work = work;
        this.specs = specs;
        this.http = http;
        this.sync = sync;
        this.rateLimit = rateLimit;
    }

    /** Runs nodes whose configuration files exist already (written by {@code statesync init}, say). */
    static DemoCluster of(Path work, List<NodeSpec> specs) {
        return new DemoCluster(work, new ArrayList<>(specs),
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build(), "", 0);
    }

    /**
     * Writes the configuration of a node that joins the running cluster through {@code via}: what
     * {@code statesync init --join} writes, learned from the running node.
     */
    void writeJoinerConfig(NodeSpec joiner, NodeSpec via) throws IOException, InterruptedException {
        var cluster = ClusterConfigs.cluster(http, via.url());
        Files.writeString(joiner.config(), ClusterConfigs.joiner("# Written by statesync demo, as init --join does.\n",
                joiner.plan(), via.url(), cluster, rateLimit, sync));
    }

    /**
     * Writes the configuration of {@code nodes} nodes that all run {@code threads} threads. Every
     * node is a founding member of every thread's group; which of them run is up to the caller.
     */
    static DemoCluster configure(Path work, int nodes, int threads, long saveStateEvery) throws IOException {
        return configure(work, nodes, threads, saveStateEvery, 0);
    }

    /** As above; each node sends at most {@code rateLimit} bytes per second (0: no cap). */
    static DemoCluster configure(Path work, int nodes, int threads, long saveStateEvery, long rateLimit)
            throws IOException {
        return configure(work, nodes, threads, saveStateEvery, rateLimit, null);
    }

    /** As above, with the nodes' {@code sync.stallTimeout} (null: the node's default). */
    static DemoCluster configure(Path work, int nodes, int threads, long saveStateEvery, long rateLimit,
                                 Duration stallTimeout) throws IOException {
        return configure(work, nodes, nodes, threads, saveStateEvery, rateLimit, stallTimeout);
    }

    /**
     * As above, where only the first {@code founders} nodes found the cluster and have their
     * configuration written now; the others join the running cluster later, and theirs is written
     * from what a running node tells ({@link #writeJoinerConfig}), as {@code statesync init --join}
     * does.
     */
    static DemoCluster configure(Path work, int nodes, int founders, int threads, long saveStateEvery,
                                 long rateLimit, Duration stallTimeout) throws IOException {
        List<NodeSpec> specs = new ArrayList<>();
        for (int i = 1; i <= nodes; i++) {
            String id = "n" + i;
            specs.add(new NodeSpec(id, freePort(1), freePort(1), freePort(threads), freePort(1),
                    work.resolve(id + ".yaml"), work.resolve(id), work.resolve(id + ".log")));
        }
        List<String> threadNames = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            threadNames.add("t" + t);
        }
        String sync = "  retainSnapshots: 2\n"
                + (stallTimeout == null ? "" : "  stallTimeout: " + stallTimeout.toMillis() + "ms\n");
        // A small pool keeps the load generator close to what blocks take, so the state size the
        // demo reports is the state the blocks hold.
        ClusterConfigs.Shared shared = new ClusterConfigs.Shared(threadNames, saveStateEvery, rateLimit,
                "  productionTimeout: 100ms\n  maxBlockBytes: 2MiB\n  mempoolBytes: 6MiB\n",
                "  faucetSeed: " + DemoLoad.FAUCET_SEED + "\n", sync);
        List<ClusterConfigs.Plan> plans = specs.subList(0, founders).stream().map(NodeSpec::plan).toList();
        for (int i = 0; i < founders; i++) {
            Files.writeString(specs.get(i).config(), ClusterConfigs.founder("# Written by statesync demo.\n",
                    plans.get(i), plans, shared));
        }        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        return new DemoCluster(work, specs, client, sync, rateLimit);
    }

    List<NodeSpec> specs() {
        return specs;
    }

    HttpClient http() {
        return http;
    }

    /**
     * The class-data and Unsafe-access options this JVM was started with (the launcher's node archive or AOT
     * cache, which holds the node's classes too): a child node maps its classes from it instead
     * of loading them, which halves its start on a busy machine. Empty without one.
     */
    private static final List<String> SHARED_CLASSES = java.lang.management.ManagementFactory.getRuntimeMXBean()
            .getInputArguments().stream().filter(a -> a.startsWith("-XX:SharedArchiveFile=")
                    || a.startsWith("-XX:AOTCache=") || a.startsWith("-Xshare:") || a.startsWith("-Xlog:cds")
                    || a.startsWith("-Xlog:aot") || a.startsWith("--sun-misc-unsafe-memory-access=")).toList();

    /** Starts a node as a child JVM running this same build (and its class-data sharing archive). */
    void launch(NodeSpec spec, String heap) throws IOException {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap, "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(SHARED_CLASSES);
        if (Runtime.version().feature() >= 23
                && SHARED_CLASSES.stream().noneMatch(o -> o.startsWith("--sun-misc-unsafe-memory-access="))) {
            // Ratis's shaded Netty reads memory through sun.misc.Unsafe; say it is expected, as the launcher does.
            cmd.add("--sun-misc-unsafe-memory-access=allow");
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "node", "--config",
                spec.config().toString(), "--exit-with-parent"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(spec.log().toFile())).start();
        synchronized (processes) {
            processes.put(spec, p);
        }
    }

    /**
     * Waits until a node's process ends by itself (a node that left its cluster) and forgets it;
     * returns its exit code, or -1 if it still ran after {@code timeout}.
     */
    int awaitExit(NodeSpec spec, Duration timeout) throws InterruptedException {
        Process p;
        synchronized (processes) {
            p = processes.get(spec);
        }
        if (p == null || !p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            return -1;
        }
        synchronized (processes) {
            processes.remove(spec);
        }
        return p.exitValue();
    }

    /** Kills a node's process at once (SIGKILL), as a crash would; waits until it is gone. */
    void kill(NodeSpec spec) throws InterruptedException {
        Process p;
        synchronized (processes) {
            p = processes.remove(spec);
        }
        if (p != null) {
            p.destroyForcibly().waitFor();
        }
    }

    /** Stops a node's process with SIGTERM, as an operator would; waits until it is gone (kills it after 30 s). */
    void terminate(NodeSpec spec) throws InterruptedException {
        Process p;
        synchronized (processes) {
            p = processes.remove(spec);
        }
        if (p != null) {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    /** The node's status document, or empty while it does not answer. */
    Optional<JsonNode> status(NodeSpec spec) {
        try {
            HttpResponse<byte[]> res = BoundedCall.send(http, HttpRequest.newBuilder(spec.url().resolve("/node/status"))
                    .timeout(Duration.ofSeconds(10)).GET().build(), MAX_ANSWER_BYTES);
            return res.statusCode() == 200 ? Optional.of(JSON.readTree(res.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /**
     * Status of a node that must answer. A node that is busy (a collection, a starved CPU) gets
     * {@link #UNRESPONSIVE} before it counts as gone; one whose process ended fails at once.
     */
    JsonNode requireStatus(NodeSpec spec) throws CommandFailure, InterruptedException {
        long deadline = System.nanoTime() + UNRESPONSIVE.toNanos();
        while (true) {
            Optional<JsonNode> s = status(spec);
            if (s.isPresent()) {
                return s.get();
            }
            Optional<String> dead = deadChild();
            if (dead.isPresent()) {
                throw new CommandFailure(dead.get());
            }
            if (System.nanoTime() > deadline) {
                throw new CommandFailure("node " + spec.id() + " has not answered " + spec.url()
                        + "/node/status for " + UNRESPONSIVE.toSeconds() + " s (see " + spec.log() + ")");
            }
            Thread.sleep(250);
        }
    }

    /** POSTs to a node and returns the status code and body. */
    HttpResponse<byte[]> post(URI uri, byte[] body) throws IOException, InterruptedException {
        return BoundedCall.send(http, HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), MAX_ANSWER_BYTES);
    }

    /** Whether every child started so far is still running; names the first that is not. */
    Optional<String> deadChild() {
        synchronized (processes) {
            for (var e : processes.entrySet()) {
                if (!e.getValue().isAlive()) {
                    return Optional.of("node " + e.getKey().id() + " exited with " + e.getValue().exitValue()
                            + " (see " + e.getKey().log() + ")");
                }
            }
        }
        return Optional.empty();
    }

    /** Stops every child: SIGTERM to all, then waits, then kills what is left. */
    @Override
    public void close() {
        List<Process> all;
        synchronized (processes) {
            all = List.copyOf(processes.values());
        }
        for (Process p : all) {
            p.destroy();
        }
        long deadline = System.nanoTime() + STOP_GRACE.toNanos();
        for (Process p : all) {
            try {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !p.waitFor(left, TimeUnit.NANOSECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        http.close();
    }

    /** Every port {@link #freePort} handed out in this process: checked free, not held, so picks must not overlap. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A free loopback port, or the first of {@code count} consecutive free ports, none handed out
     * before by this process. Another process may take one before the node binds it; on loopback
     * in a demo that is rare.
     */
    static int freePort(int count) throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            // Below Linux's ephemeral range (32768-60999): a port picked there and released can be
            // taken by any process's outgoing connection before the node binds it.
            int base = ThreadLocalRandom.current().nextInt(10_000, 32_000 - count);
            if (!reserve(base, count)) {
                continue;
            }
            List<ServerSocket> held = new ArrayList<>();
            try {
                int first = -1;
                for (int i = 0; i < count; i++) {
                    ServerSocket s = new ServerSocket();
                    held.add(s);
                    // Checked without SO_REUSEADDR: a port that still has connections in TIME_WAIT
                    // counts as busy too (stricter than a server's own bind).
                    s.setReuseAddress(false);
                    s.bind(new InetSocketAddress("127.0.0.1", base + i));
                    if (i == 0) {
                        first = s.getLocalPort();
                    }
                }
                return first;
            } catch (IOException busy) {
                // try another range
            } finally {
                for (ServerSocket s : held) {
                    try {
                        s.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }
        }
        throw new IOException("no " + count + " consecutive free ports found on 127.0.0.1");
    }

    private static synchronized boolean reserve(int base, int count) {
        for (int p = base; p < base + count; p++) {
            if (HANDED_OUT.contains(p)) {
                return false;
            }
        }
        for (int p = base; p < base + count; p++) {
            HANDED_OUT.add(p);
        }
        return true;
    }
}
