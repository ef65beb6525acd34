package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.core.files.FileTrees;
import io.statesync.core.units.Sizes;
import io.statesync.node.ledger.ThreadId;
import io.statesync.transfer.http.BoundedCall;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync demo}, the main job: a cluster of node processes on loopback with several
 * threads each; a load generator grows the state; then a new node with an empty data directory
 * joins and gets the state from its peers (verified, from all of them at once) while blocks
 * keep coming; finally every node's state root is compared at the same height. Exit 0 only if
 * they all match.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Starts node processes on loopback, grows their state with a load generator, starts one more"
                + " node with an empty data directory, shows its sync, and checks its state roots equal the others'."})
final class DemoCommand implements Callable<Integer> {
    private static final Pattern LOG_REFERENCE = Pattern.compile("\\(see (\\S+\\.log)\\)");
    private static final Pattern SYNC_BYTES = Pattern.compile(
            "statesync_groups_sync_bytes_total\\{[^}]*source=\"([^\"]+)\"[^}]*} ([0-9.eE+]+)");
    /** Bytes a new node's head start fetched (before its groups ran; see JoinPrefetch). */
    private static final Pattern PREFETCH_BYTES = Pattern.compile(
            "statesync_node_prefetch_fetched_bytes_total(?:\\{[^}]*})? ([0-9.eE+]+)");

    private final Environment env;

    @Spec
    private CommandSpec spec;

    @Option(names = "--state-size", paramLabel = "SIZE", defaultValue = "256MiB", converter = Converters.Size.class,
            description = "state to build before the new node joins, over all threads (default: ${DEFAULT-VALUE})")
    private long stateSize;

    @Option(names = "--nodes", paramLabel = "N", defaultValue = "3",
            description = "nodes running from the start; one more joins later (default: ${DEFAULT-VALUE})")
    private int nodes;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "2",
            description = "threads (parallel chains) every node runs (default: ${DEFAULT-VALUE})")
    private int threadCount;

    @Option(names = "--node-heap", paramLabel = "SIZE", defaultValue = "768m",
            description = "heap of each node process, as for java -Xmx (default: ${DEFAULT-VALUE})")
    private String nodeHeap;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "20m",
            description = "give up after this long (default: ${DEFAULT-VALUE})")
    private Duration timeout;

    @Option(names = "--work", paramLabel = "DIR",
            description = "keep configs, data and node logs here (must be empty or absent); default: a temp dir deleted at the end")
    private Path work;

    @Option(names = "--join-more", paramLabel = "K", defaultValue = "0",
            description = "after the first joiner, K more nodes join one after another (default: ${DEFAULT-VALUE})")
    private int joinMore;

    @Option(names = "--bench", hidden = true,
            description = "also print the figures as BENCH lines (./bench node-sync)")
    private boolean bench;

    DemoCommand(Environment env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        if (stateSize < 1 << 20 || stateSize > 64L << 30) {
            throw new ParameterException(spec.commandLine(), "--state-size must be between 1MiB and 64GiB");
        }
        if (nodes < 1 || nodes > 9) {
            throw new ParameterException(spec.commandLine(), "--nodes must be between 1 and 9, got " + nodes);
        }
        if (threadCount < 1 || threadCount > 16) {
            throw new ParameterException(spec.commandLine(), "--threads must be between 1 and 16, got " + threadCount);
        }
        if (joinMore < 0 || joinMore > 5) {
            throw new ParameterException(spec.commandLine(), "--join-more must be between 0 and 5, got " + joinMore);
        }
        if (!nodeHeap.matches("[0-9]{1,6}[mMgG]")) {
            throw new ParameterException(spec.commandLine(), "--node-heap must look like 512m or 2g, got " + nodeHeap);
        }
        Path dir;
        boolean temporary = work == null;
        if (temporary) {
            dir = Files.createTempDirectory("statesync-demo-");
        } else {
            if (Files.exists(work) && !Directories.isEmptyDirectory(work)) {
                throw new ParameterException(spec.commandLine(), "--work " + work + " must be an empty directory or not exist");
            }
            dir = Files.createDirectories(work);
        }
        PrintWriter err = spec.commandLine().getErr();
        boolean passed = false;
        try {
            int code = run(dir, err);
            passed = code == 0;
            return code;
        } catch (CommandFailure e) {
            // The failure names a node's log: show its end now, while the reader is looking.
            printLogTail(err, e.getMessage());
            throw e;
        } finally {
            // A failed run keeps everything: the logs it names are the only clue to the cause.
            if (temporary && passed) {
                try {
                    FileTrees.deleteRecursively(dir);
                } catch (IOException e) {
                    err.println("could not delete " + dir + ": " + e.getMessage());
                }
            } else {
                err.println("configs, data and node logs kept in " + dir);
            }
            err.flush();
        }
    }

    /** Prints the last lines of the node log a failure message names ({@code (see <log>)}), if any. */
    static void printLogTail(PrintWriter err, String message) {
        Matcher m = LOG_REFERENCE.matcher(message == null ? "" : message);
        if (!m.find()) {
            return;
        }
        Path log = Path.of(m.group(1));
        try {
            List<String> lines = Files.readAllLines(log, java.nio.charset.StandardCharsets.UTF_8);
            err.println("last lines of " + log + ":");
            for (String line : lines.subList(Math.max(0, lines.size() - 30), lines.size())) {
                err.println("  " + line);
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            err.println("cannot read " + log + ": " + e.getMessage());
        }
        err.flush();
    }

    private int run(Path dir, PrintWriter err) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<ThreadId> threads = new ArrayList<>();
        for (int t = 0; t < threadCount; t++) {
            threads.add(new ThreadId("t" + t));
        }
        // Save often enough that the joiner finds a recent snapshot, rarely enough that saving
        // big states does not run back to back.
        long saveEvery = Math.max(20, Math.min(200, stateSize / (4L << 20)));
        // The founders' configs never name the joiners: they join the running cluster through the
        // API (as listeners while they sync, then promoted to voters), as any new machine would.
        try (DemoCluster cluster = DemoCluster.configure(dir, nodes + 1 + joinMore, nodes, threadCount, saveEvery, 0,
                null)) {
            List<DemoCluster.NodeSpec> running = new ArrayList<>(cluster.specs().subList(0, nodes));
            DemoCluster.NodeSpec joiner = cluster.specs().get(nodes);
            err.printf(Locale.ROOT, "starting %d nodes with %d threads each (logs in %s)%n", nodes, threadCount, dir);
            err.flush();
            for (DemoCluster.NodeSpec s : running) {
                cluster.launch(s, nodeHeap);
            }
            awaitLeaders(cluster, running, threads, deadline);

            ProgressReporter progress = ProgressReporter.forEnvironment(env, err);
            try (DemoLoad load = new DemoLoad(cluster, List.copyOf(running), threads, 4)) {
                load.fund();
                load.start();
                err.printf(Locale.ROOT, "growing the state to %s with %d writers%n", Sizes.mib(stateSize),
                        4 * threadCount);
                err.flush();
                load.mode(DemoLoad.Mode.FILL);
                progress.startPhase();
                long size;
                while ((size = stateBytes(cluster.requireStatus(running.get(0)))) < stateSize) {
                    check(cluster, load, deadline);
                    progress.onPhase("load", size, stateSize, "", false);
                    Thread.sleep(200);
                }
                progress.onPhase("load", size, stateSize, "", true);
                progress.finish();
                load.mode(DemoLoad.Mode.TRICKLE);
                awaitSnapshots(cluster, running, threads, deadline, err);

                JsonNode atJoin = cluster.requireStatus(running.get(0));
                Map<String, Long> heightsAtJoin = heights(atJoin);
                long sizeAtJoin = stateBytes(atJoin);
                long transactionsAtJoin = load.submitted();
                Map<String, String> membersBefore = members(atJoin);
                err.printf(Locale.ROOT, "starting node %s with an empty data directory; it joins through %s's API, "
                        + "syncs as a listener and is promoted to voter%n", joiner.id(), running.get(0).id());
                err.flush();
                cluster.writeJoinerConfig(joiner, running.get(0));
                long joinStart = System.nanoTime();
                cluster.launch(joiner, nodeHeap);
                progress.startPhase();
                double firstChunkSeconds = -1;
                while (!caughtUp(cluster, joiner, heightsAtJoin, progress)) {
                    check(cluster, load, deadline);
                    if (firstChunkSeconds < 0 && loading(cluster, joiner)) {
                        firstChunkSeconds = (System.nanoTime() - joinStart) / 1e9;
                    }
                    Thread.sleep(200);
                }
                double syncSeconds = (System.nanoTime() - joinStart) / 1e9;
                progress.finish();
                JsonNode startup = cluster.requireStatus(joiner).path("startup");
                Map<String, Long> heightsAfter = heights(cluster.requireStatus(running.get(0)));
                running.add(joiner);
                // More nodes join one after another; each may fetch from every member, the earlier joiners too.
                for (DemoCluster.NodeSpec more : cluster.specs().subList(nodes + 1, cluster.specs().size())) {
                    err.printf(Locale.ROOT, "starting node %s; it joins the same way%n", more.id());
                    err.flush();
                    cluster.writeJoinerConfig(more, running.get(0));
                    Map<String, Long> now = heights(cluster.requireStatus(running.get(0)));
                    cluster.launch(more, nodeHeap);
                    progress.startPhase();
                    while (!caughtUp(cluster, more, now, progress)) {
                        check(cluster, load, deadline);
                        Thread.sleep(200);
                    }
                    progress.finish();
                    running.add(more);
                }
                load.mode(DemoLoad.Mode.STOP);
                Map<String, String> membersAfter = members(cluster.requireStatus(running.get(0)));

                Map<String, Map<String, String>> roots = pauseAndCompare(cluster, running, threads, deadline);
                return summarize(err, cluster, joiner, running, roots, sizeAtJoin, new double[] {firstChunkSeconds,
                        syncSeconds}, startup, heightsAtJoin, heightsAfter, transactionsAtJoin, membersBefore, membersAfter);
            }
        }
    }

    /** Fails the demo if a child died, the load generator stopped, or time is up. */
    static void check(DemoCluster cluster, DemoLoad load, long deadline) throws CommandFailure {
        var dead = cluster.deadChild();
        if (dead.isPresent()) {
            throw new CommandFailure(dead.get());
        }
        if (load != null && load.failure() != null) {
            throw new CommandFailure("load generator: " + load.failure());
        }
        if (System.nanoTime() > deadline) {
            throw new CommandFailure("the demo did not finish within its --timeout");
        }
    }

    static void awaitLeaders(DemoCluster cluster, List<DemoCluster.NodeSpec> running, List<ThreadId> threads,
                                     long deadline) throws CommandFailure, InterruptedException {
        while (true) {
            check(cluster, null, deadline);
            int led = 0;
            for (ThreadId t : threads) {
                boolean found = false;
                for (DemoCluster.NodeSpec s : running) {
                    JsonNode st = cluster.status(s).orElse(null);
                    if (st != null && "LEADER".equals(thread(st, t.name()).path("role").asText())) {
                        found = true;
                    }
                }
                led += found ? 1 : 0;
            }
            if (led == threads.size()) {
                return;
            }
            Thread.sleep(200);
        }
    }

    /** Waits until every running node has saved a snapshot of every thread since the state reached its size. */
    private static void awaitSnapshots(DemoCluster cluster, List<DemoCluster.NodeSpec> running, List<ThreadId> threads,
                                       long deadline, PrintWriter err) throws CommandFailure, InterruptedException {
        Map<String, Long> start = new HashMap<>();
        for (DemoCluster.NodeSpec s : running) {
            JsonNode st = cluster.requireStatus(s);
            for (ThreadId t : threads) {
                start.put(s.id() + "/" + t.name(), thread(st, t.name()).path("latestSnapshotIndex").asLong(-1));
            }
        }
        err.println("waiting for every node to save a snapshot of the grown state");
        err.flush();
        while (true) {
            check(cluster, null, deadline);
            boolean all = true;
            for (DemoCluster.NodeSpec s : running) {
                JsonNode st = cluster.requireStatus(s);
                for (ThreadId t : threads) {
                    long now = thread(st, t.name()).path("latestSnapshotIndex").asLong(-1);
                    all &= now > start.get(s.id() + "/" + t.name());
                }
            }
            if (all) {
                return;
            }
            Thread.sleep(250);
        }
    }

    /**
     * Draws the joiner's sync progress; true once every thread has caught up to the heights at join
     * and the joiner is a voting member of it.
     */
    private static boolean caughtUp(DemoCluster cluster, DemoCluster.NodeSpec joiner, Map<String, Long> heightsAtJoin,
                                    ProgressReporter progress) {
        JsonNode st = cluster.status(joiner).orElse(null);
        if (st == null) {
            progress.onPhase("sync", 0, 0, "starting", false);
            return false;
        }
        long done = 0;
        long total = 0;
        boolean all = true;
        int syncing = 0;
        for (JsonNode t : st.path("threads")) {
            JsonNode p = t.path("syncProgress");
            long bytes = t.path("stateBytes").asLong();
            if (!p.isMissingNode() && "bytes".equals(p.path("unit").asText())) {
                done += p.path("done").asLong();
                total += p.path("total").asLong();
                syncing++;
            } else {
                done += bytes;
                total += bytes;
            }
            long target = heightsAtJoin.getOrDefault(t.path("thread").asText(), Long.MAX_VALUE);
            all &= !t.path("catchingUp").asBoolean() && t.path("height").asLong() >= target
                    && t.path("joining").asText("member").equals("member");
        }
        progress.onPhase("sync", done, total, syncing + " thread(s) fetching", all);
        return all;
    }

    /**
     * Pauses every producer, waits until all nodes stand at the same height on each thread, and
     * returns each node's state root per thread.
     */
    static Map<String, Map<String, String>> pauseAndCompare(DemoCluster cluster,
                                                                    List<DemoCluster.NodeSpec> all,
                                                                    List<ThreadId> threads, long deadline)
            throws Exception {
        for (DemoCluster.NodeSpec s : all) {
            for (ThreadId t : threads) {
                var res = cluster.post(s.adminUrl().resolve("/admin/producer/" + t.name() + "/pause"), new byte[0]);
                if (res.statusCode() != 200) {
                    throw new CommandFailure("node " + s.id() + " did not pause thread " + t.name() + ": "
                            + res.statusCode() + " " + new String(res.body(), java.nio.charset.StandardCharsets.UTF_8)
                            .strip());
                }
            }
        }
        while (true) {
            check(cluster, null, deadline);
            Map<String, Map<String, String>> roots = new TreeMap<>();
            Map<String, Long> heights = new HashMap<>();
            boolean level = true;
            for (DemoCluster.NodeSpec s : all) {
                JsonNode st = cluster.requireStatus(s);
                Map<String, String> mine = new TreeMap<>();
                for (ThreadId t : threads) {
                    JsonNode n = thread(st, t.name());
                    long h = n.path("height").asLong();
                    Long seen = heights.putIfAbsent(t.name(), h);
                    level &= seen == null || seen == h;
                    mine.put(t.name(), h + " " + n.path("stateRoot").asText());
                }
                roots.put(s.id(), mine);
            }
            if (level) {
                return roots;
            }
            Thread.sleep(200);
        }
    }

    private int summarize(PrintWriter err, DemoCluster cluster, DemoCluster.NodeSpec joiner,
                          List<DemoCluster.NodeSpec> all, Map<String, Map<String, String>> roots, long stateBytes,
                          double[] timeline, JsonNode startup, Map<String, Long> heightsAtJoin, Map<String, Long> heightsAfter,
                          long transactions, Map<String, String> membersBefore, Map<String, String> membersAfter)
            throws IOException, InterruptedException {
        // The joiner's own clock, from its process start: the demo's polling of /node/status
        // sees nothing while the node starts (the API answers 503 until every group runs).
        double firstChunkSeconds = startup.path("first_chunk").asDouble(timeline[0]);
        double syncSeconds = timeline[1];
        String metrics = metrics(cluster, joiner);
        Map<String, Double> sources = sumBySource(metrics);
        double fetched = sources.values().stream().mapToDouble(Double::doubleValue).sum();
        double loadSeconds = startup.has("installed") && startup.has("first_chunk")
                ? startup.path("installed").asDouble() - startup.path("first_chunk").asDouble()
                : maxSample(metrics, "statesync_node_state_load_seconds_sum");
        long produced = 0;
        for (var e : heightsAfter.entrySet()) {
            produced += e.getValue() - heightsAtJoin.getOrDefault(e.getKey(), e.getValue());
        }
        Map<String, String> reference = roots.get(all.get(0).id());
        boolean match = roots.values().stream().allMatch(reference::equals);
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "state size        %s over %d threads when %s started (%d transactions)%n",
                Sizes.mib(stateBytes), threadCount, joiner.id(), transactions);
        out.printf(Locale.ROOT, "sync time         %.1f s for node %s, from process start to caught up and promoted"
                + " (loading chunks from %.1f s)%n", syncSeconds, joiner.id(), firstChunkSeconds);
        out.printf(Locale.ROOT, "phases of %-7s %s%n", joiner.id(), phases(startup));
        out.printf(Locale.ROOT, "fetched           %s at %.1f MiB/s over the sync time; first chunk to installed took"
                        + " %.1f s (%.1f MiB/s)%n", Sizes.mib((long) fetched), Sizes.toMib(fetched) / syncSeconds, loadSeconds,
                loadSeconds > 0 ? Sizes.toMib(fetched) / loadSeconds : 0.0);
        out.printf(Locale.ROOT, "sources used      %s%n", sources.isEmpty() ? "none (caught up by log replication)"
                : String.join(", ", sources.entrySet().stream().map(e -> e.getKey() + " "
                        + Sizes.mib(e.getValue().longValue())).toList()));
        out.printf(Locale.ROOT, "blocks meanwhile  %d produced on the other nodes while %s synced%n", produced,
                joiner.id());
        for (var e : membersAfter.entrySet()) {
            out.printf(Locale.ROOT, "members of %-6s before %s; after %s%n", e.getKey(),
                    membersBefore.getOrDefault(e.getKey(), "?"), e.getValue());
        }
        for (var e : roots.entrySet()) {
            out.printf(Locale.ROOT, "%-4s %s%n", e.getKey(), e.getValue());
        }
        out.println(match ? "state roots match on every node" : "STATE ROOTS DIFFER");
        if (bench) {
            bench(out, "demo_state_size", Sizes.toMib(stateBytes), "MiB");
            bench(out, "demo_sync_seconds", syncSeconds, "s");
            bench(out, "demo_first_chunk_seconds", firstChunkSeconds, "s");
            for (String phase : List.of("api", "gossip", "groups", "fetched", "installed", "caught_up")) {
                if (startup.has(phase)) {
                    bench(out, "demo_phase_" + phase + "_seconds", startup.path(phase).asDouble(), "s");
                }
            }
            bench(out, "demo_fetched", Sizes.toMib(fetched), "MiB");
            bench(out, "demo_sync_mib_per_s", Sizes.toMib(fetched) / syncSeconds, "MiB/s");
            bench(out, "demo_load_seconds", loadSeconds, "s");
            bench(out, "demo_load_mib_per_s", loadSeconds > 0 ? Sizes.toMib(fetched) / loadSeconds : 0, "MiB/s");
            bench(out, "demo_sources", sources.size(), "sources");
            bench(out, "demo_blocks_meanwhile", produced, "blocks");
            bench(out, "demo_roots_match", match ? 1 : 0, "bool");
        }
        out.flush();
        return match ? Failures.OK : Failures.FAILED;
    }

    /** The joiner's phases as "api 1.2 s, gossip 3.4 s, ..." (seconds from its process start). */
    private static String phases(JsonNode startup) {
        List<String> out = new ArrayList<>();
        startup.properties().forEach(e -> out.add(String.format(Locale.ROOT, "%s %.1f s", e.getKey(),
                e.getValue().asDouble())));
        return out.isEmpty() ? "not reported" : String.join(", ", out) + " (from its process start)";
    }

    static String metrics(DemoCluster cluster, DemoCluster.NodeSpec node)
            throws IOException, InterruptedException {
        return new String(BoundedCall.send(cluster.http(), HttpRequest.newBuilder(node.url().resolve("/metrics"))
                        .timeout(java.time.Duration.ofSeconds(10)).GET().build(), DemoCluster.MAX_ANSWER_BYTES).body(),
                java.nio.charset.StandardCharsets.UTF_8);
    }

    /** The largest value of a metric over its label sets (the loads of several threads run at once). */
    private static double maxSample(String metrics, String name) {
        return metrics.lines().filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).max().orElse(0);
    }

    private static void bench(PrintWriter out, String name, double value, String unit) {
        out.printf(Locale.ROOT, "BENCH %s %.3f %s%n", name, value, unit);
    }

    /** Bytes the joiner fetched per source, from its Prometheus metrics. */
    private static Map<String, Double> sumBySource(String metrics) {
        Map<String, Double> bytes = new TreeMap<>();
        Matcher head = PREFETCH_BYTES.matcher(metrics);
        if (head.find() && Double.parseDouble(head.group(1)) > 0) {
            bytes.put("head start", Double.parseDouble(head.group(1)));
        }
        Matcher m = SYNC_BYTES.matcher(metrics);
        while (m.find()) {
            double v = Double.parseDouble(m.group(2));
            if (v > 0) {
                bytes.merge(m.group(1), v, Double::sum);
            }
        }
        return bytes;
    }

    /**
     * Whether the joiner is fetching a state: a load whose size is known, i.e. its manifest is in
     * and chunk requests go out (seen at the 200 ms polling granularity).
     */
    private static boolean loading(DemoCluster cluster, DemoCluster.NodeSpec joiner) {
        JsonNode st = cluster.status(joiner).orElse(null);
        if (st == null) {
            return false;
        }
        for (JsonNode t : st.path("threads")) {
            JsonNode p = t.path("syncProgress");
            if ("bytes".equals(p.path("unit").asText()) && p.path("total").asLong() > 0) {
                return true;
            }
        }
        return false;
    }

    /** Per thread, its members and their roles as a node's status lists them: "n1 leader, n2 follower". */
    static Map<String, String> members(JsonNode status) {
        Map<String, String> out = new TreeMap<>();
        for (JsonNode t : status.path("threads")) {
            List<String> list = new ArrayList<>();
            for (JsonNode m : t.path("members")) {
                list.add(m.path("id").asText() + " " + m.path("role").asText());
            }
            out.put(t.path("thread").asText(), String.join(", ", list));
        }
        return out;
    }

    private static long stateBytes(JsonNode status) {
        long sum = 0;
        for (JsonNode t : status.path("threads")) {
            sum += t.path("stateBytes").asLong();
        }
        return sum;
    }

    static Map<String, Long> heights(JsonNode status) {
        Map<String, Long> h = new TreeMap<>();
        for (JsonNode t : status.path("threads")) {
            h.put(t.path("thread").asText(), t.path("height").asLong());
        }
        return h;
    }

    static JsonNode thread(JsonNode status, String name) {
        for (JsonNode t : status.path("threads")) {
            if (t.path("thread").asText().equals(name)) {
                return t;
            }
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }
}
