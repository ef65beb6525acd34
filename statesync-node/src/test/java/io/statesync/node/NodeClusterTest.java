package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.core.testing.Await;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Three real nodes in this JVM (HTTP, gossip, a Ratis group per thread, RocksDB), and a fourth
 * that joins later with an empty data directory and gets its state through the state-sync
 * service.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeClusterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<ThreadId> THREADS = List.of(new ThreadId("t0"), new ThreadId("t1"));

    @TempDir
    static Path dir;
    private static List<NodeConfig> configs;
    private static final List<Node> nodes = new ArrayList<>();
    private static HttpClient http;
    private static final Map<ThreadId, Long> nonces = new TreeMap<>();

    @BeforeAll
    static void start() throws Exception {
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        configs = TestNodes.configure(dir, 4, THREADS, 10, true);
        for (int i = 0; i < 3; i++) {
            nodes.add(Node.start(configs.get(i)));
        }
        Await.until("a leader of every thread", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> leaderOf(t) != null));
        // Every node knows the leaders too (a follower that does not yet answers 503 "no leader").
        Await.until("every node knows the leaders", Duration.ofSeconds(60),
                () -> nodes.stream().allMatch(n -> THREADS.stream()
                        .allMatch(t -> n.thread(t.name()).orElseThrow().groupStatus().leader() != null)));
    }

    @AfterAll
    static void stop() {
        for (Node n : nodes) {
            n.close();
        }
        http.close();
    }

    @Test
    @Order(1)
    void aTransactionSentToAnyNodeIsIncludedAndEveryNodeSeesTheBalance() throws Exception {
        Signer alice = Signer.fromPhrase("alice");
        ThreadId t0 = THREADS.get(0);
        Node follower = nodes.stream().filter(n -> n != leaderOf(t0)).findFirst().orElseThrow();

        HttpResponse<String> res = post(follower, "/node/tx", transfer(t0, alice, 1234).encode());

        assertEquals(202, res.statusCode(), res.body());
        Await.until("alice holds 1234 on every node", Duration.ofSeconds(30),
                () -> nodes.stream().allMatch(n -> balance(n, t0, alice).map(b -> b == 1234).orElse(false)));
        String id = JSON.readTree(res.body()).path("id").asText();
        JsonNode outcome = JSON.readTree(get(leaderOf(t0), "/node/tx/" + id).body());
        assertTrue(outcome.path("status").asText().startsWith("included in block"), outcome.toString());
    }

    @ParameterizedTest(name = "{0} {1}")
    @Order(2)
    @CsvSource(delimiter = '|', value = {
            "POST  | /node/tx                   | empty     | 400 | empty body",
            "POST  | /node/tx                   | garbage   | 400 | transaction:",
            "POST  | /node/tx                   | unknown   | 404 | thread t9 is not run by this node",
            "POST  | /node/tx                   | badsig    | 422 | bad signature",
            "POST  | /node/tx                   | overdraft | 422 | overdraft",
            "POST  | /node/tx                   | stranger  | 422 | unknown account",
            "GET   | /node/tx/xyz               | empty     | 400 | 64-hex transaction id",
            "GET   | /node/tx/00000000000000000000000000000000000000000000000000000000000000aa | empty | 404 | not known here",
            "GET   | /node/balance?thread=t0&account=zz | empty | 400 | account:",
            "GET   | /node/balance?thread=t9&account=00 | empty | 404 | thread t9",
            "GET   | /node/balance?thread=t0    | empty     | 400 | missing query parameter 'account'",
            "GET   | /node/nothing              | empty     | 404 | not found",
            "DELETE| /node/status               | empty     | 405 | not allowed",
            "POST  | /admin/producer/t0/explode | empty     | 400 | pause or /resume",
            "POST  | /admin/producer/t9/pause   | empty     | 404 | thread t9 is not run by this node",
            "POST  | /node/producer/t0/pause    | empty     | 404 | the producer controls are on the admin API",
            "POST  | /node/fresh-state?wait=2m  | empty     | 400 | wait: at most 60s",
            "GET   | /node/fresh-state          | empty     | 405 | not allowed",
    })
    void badInputGetsA4xxWithItsReasonAndTheNodeKeepsServing(String method, String path, String body, int status,
                                                              String reason) throws Exception {
        Node leader = leaderOf(THREADS.get(0));
        Signer stranger = Signer.fromPhrase("stranger");
        byte[] bytes = switch (body) {
            case "garbage" -> new byte[] {0x11, 1, 2, 3};
            case "unknown" -> Transaction.transfer(TestNodes.FAUCET, new ThreadId("t9"), 0, stranger.account(), 1)
                    .encode();
            case "badsig" -> {
                byte[] e = Transaction.transfer(TestNodes.FAUCET, THREADS.get(0), 99, stranger.account(), 1).encode();
                e[e.length - 1] ^= 1;
                yield e;
            }
            case "overdraft" -> Transaction.transfer(TestNodes.FAUCET, THREADS.get(0), 99, stranger.account(),
                    Long.MAX_VALUE / 2).encode();
            case "stranger" -> Transaction.transfer(stranger, THREADS.get(0), 0, TestNodes.FAUCET.account(), 1)
                    .encode();
            default -> new byte[0];
        };
        HttpResponse<String> res = http.send(HttpRequest.newBuilder(at(leader, path))
                .method(method, HttpRequest.BodyPublishers.ofByteArray(bytes)).build(),
                HttpResponse.BodyHandlers.ofString());

        assertEquals(status, res.statusCode(), res.body());
        assertTrue(res.body().contains(reason), res.body());
        assertFalse(res.body().strip().contains("\n"), "one line: " + res.body());
        assertEquals(200, get(leader, "/node/status").statusCode(), "still serving");
    }

    @Test
    @Order(3)
    void aBodyOverTheLimitGets413() throws Exception {
        HttpResponse<String> res = post(nodes.get(0), "/node/tx", new byte[Node.MAX_TX_BYTES + 1]);
        assertEquals(413, res.statusCode());
    }

    @Test
    @Order(4)
    void theAdminApiListsMembersAndRefusesBadRemovalsWithAReason() throws Exception {
        Node n = nodes.get(0);
        // Every thread lists the four configured members (n4 is a member that has not started yet)
        JsonNode members = JSON.readTree(get(n, "/admin/members").body());
        for (ThreadId t : THREADS) {
            List<String> ids = new ArrayList<>();
            members.path("threads").path(t.name()).forEach(m -> ids.add(m.path("id").asText()));
            assertEquals(List.of("n1", "n2", "n3", "n4"), ids.stream().sorted().toList(), members.toString());
        }
        // And /node/status carries them too, with roles
        JsonNode status = JSON.readTree(get(n, "/node/status").body());
        assertEquals(4, status.path("threads").get(0).path("members").size(), status.toString());

        HttpResponse<String> unknown = post(n, "/admin/members/n9/remove", new byte[0]);
        assertEquals(404, unknown.statusCode(), unknown.body());
        assertTrue(unknown.body().contains("'n9' is not a member of any thread"), unknown.body());
        HttpResponse<String> malformed = post(n, "/admin/members/" + "x".repeat(65) + "/remove", new byte[0]);
        assertEquals(400, malformed.statusCode(), malformed.body());
        assertTrue(malformed.body().contains("member ids are 1-64 of"), malformed.body());
        HttpResponse<String> self = post(n, "/admin/members/n1/remove", new byte[0]);
        assertEquals(409, self.statusCode(), self.body());
        assertTrue(self.body().contains("POST /admin/leave"), self.body());
        assertEquals(404, post(n, "/admin/nothing", new byte[0]).statusCode());
        assertEquals(405, post(n, "/admin/members", new byte[0]).statusCode());
        assertEquals(405, get(n, "/admin/leave").statusCode());
        // Nothing was removed by any of that
        assertEquals(4, JSON.readTree(get(n, "/admin/members").body()).path("threads").path("t0").size());
    }

    @Test
    @Order(5)
    void theClusterRouteTellsAJoinerTheThreadsGenesisAndMembers() throws Exception {
        JsonNode c = JSON.readTree(get(nodes.get(1), "/node/cluster").body());
        assertEquals("[\"t0\",\"t1\"]", c.path("threads").toString());
        assertEquals(1_000_000_000_000L, c.path("genesis").path(TestNodes.FAUCET.account().hex()).asLong());
        assertEquals(4, c.path("members").size());
        assertTrue(c.path("gossip").asText().startsWith("127.0.0.1:"), c.toString());
    }

    @Test
    @Order(6)
    void metricsCarryEachThreadsStateTheBuildAndTheJvm() throws Exception {
        // every thread has one leader among the nodes, as /metrics tells it
        for (ThreadId t : THREADS) {
            long leaders = 0;
            for (Node n : nodes) {
                String m = get(n, "/metrics").body();
                leaders += (long) value(m, "statesync_node_thread_role{role=\"leader\",thread=\"" + t.name() + "\"}");
                assertEquals(status(n, t).path("height").asDouble(), value(m,
                        "statesync_node_thread_height{thread=\"" + t.name() + "\"}"), 5.0, "height of " + t.name());
                assertEquals(0, value(m, "statesync_node_thread_halted{thread=\"" + t.name() + "\"}"));
                assertTrue(value(m, "statesync_node_thread_commit_index{thread=\"" + t.name() + "\"}") > 0);
                double pool = value(m, "statesync_node_thread_mempool_transactions{thread=\"" + t.name() + "\"}");
                assertTrue(pool >= 0 && pool <= status(n, t).path("mempool").asDouble() + 1000, "mempool " + pool);
                double progress = value(m, "statesync_node_thread_sync_progress{thread=\"" + t.name() + "\"}");
                assertTrue(progress >= 0 && progress <= 1, "sync progress " + progress);
                // The ledger holds at least the genesis accounts and its own records.
                assertTrue(value(m, "statesync_node_rocksdb_keys{thread=\"" + t.name() + "\"}") > 0, "rocksdb keys");
                assertTrue(value(m, "statesync_node_rocksdb_live_data_bytes{thread=\"" + t.name() + "\"}") >= 0);
            }
            assertEquals(1, leaders, "one leader of " + t.name());
        }
        String m = get(nodes.get(0), "/metrics").body();
        assertTrue(m.lines().anyMatch(l -> l.startsWith("statesync_build_info{") && l.contains("java=\"")
                && (l.endsWith(" 1") || l.endsWith(" 1.0"))), () -> "build_info: " + m.lines().filter(l -> l.contains("build")).toList());
        for (String jvm : List.of("jvm_memory_used_bytes{", "jvm_threads_live_threads ", "process_cpu_usage ",
                "process_uptime_seconds ", "process_files_open_files ")) {
            assertTrue(m.contains("\n" + jvm), jvm);
        }
        // Sources are labelled host:port, never by URL; no unit is said twice.
        assertFalse(m.lines().anyMatch(l -> !l.startsWith("#") && l.contains("source=\"http")), "URL labels");
        assertFalse(m.lines().anyMatch(l -> l.matches("^\\w*_bytes_\\w*_bytes\\w*.*")), "bytes twice");
    }

    /** The value of one exact series in a Prometheus text page; fails when the page lacks it. */
    private static double value(String page, String series) {
        return page.lines().filter(l -> l.startsWith(series + " ")).findFirst()
                .map(l -> Double.parseDouble(l.substring(series.length() + 1).trim()))
                .orElseThrow(() -> new AssertionError("no series " + series));
    }

    @Test
    @Order(10)
    void aNodeWithAnEmptyDataDirectoryGetsTheStateFromItsPeersAndFollows() throws Exception {
        // Some state on both threads, and saved states that cover it.
        Signer writer = Signer.fromPhrase("writer");
        for (ThreadId t : THREADS) {
            assertEquals(202, post(leaderOf(t), "/node/tx", transfer(t, writer, 1_000_000).encode()).statusCode());
        }
        Await.until("the writer funded on every thread", Duration.ofSeconds(30),
                () -> THREADS.stream().allMatch(t -> balance(nodes.get(0), t, writer).isPresent()));
        for (ThreadId t : THREADS) {
            for (int i = 0; i < 100; i++) {
                Transaction w = Transaction.write(writer, t, i, ("key" + i).getBytes(StandardCharsets.UTF_8),
                        new byte[8000 + i]);
                assertEquals(202, post(leaderOf(t), "/node/tx", w.encode()).statusCode());
            }
        }
        // Saved states well past the log the leaders keep (64 entries behind a snapshot), so the
        // joiner cannot be served from the log alone and must load a saved state.
        Await.until("over 800 kB of state and a save past 400 on every thread", Duration.ofSeconds(90),
                () -> THREADS.stream().allMatch(t -> status(nodes.get(0), t).path("stateBytes").asLong() > 800_000
                        && status(nodes.get(0), t).path("latestSnapshotIndex").asLong(-1) > 400));

        // Saves are layered: each founder keeps the full dump of its epoch's first save (every 80
        // blocks at saveStateEvery 10) as the base of the later ones, so the joiner loads a
        // base plus an overlay, or a full dump if it joins at an epoch's first save.
        // The chain goes on meanwhile: a new base lands a moment before its predecessor is
        // removed, so a look can see both; one base per thread is what it settles to.
        Await.until(() -> "one base per thread: " + bases(configs.get(0).dataDir()), Duration.ofSeconds(10),
                () -> bases(configs.get(0).dataDir()).size() == THREADS.size());
        List<String> bases = bases(configs.get(0).dataDir());
        assertTrue(bases.stream().allMatch(b -> Long.parseLong(b.substring(5)) % 80 == 0), bases.toString());

        // The joiner is told only whom to join through, as an operator's new machine would be: its
        // head start follows that node's gossip card and fetches while its groups start.
        NodeConfig four = configs.get(3);
        Node joiner = Node.start(new NodeConfig(four.id(), four.dataDir(), four.host(), four.httpPort(),
                four.httpRateLimit(), four.gossipPort(), four.gossipSeeds(), four.threads(), List.of(four.self()),
                four.producer(), four.saveStateEvery(), four.sync(), four.genesis(), List.of(nodes.get(0).uri())));
        nodes.add(joiner);

        Await.until("the joiner caught up to height 30 on every thread", Duration.ofSeconds(120),
                () -> THREADS.stream().allMatch(t -> {
                    JsonNode s = status(joiner, t);
                    return !s.path("catchingUp").asBoolean() && s.path("height").asLong() >= 30;
                }));
        String metrics = get(joiner, "/metrics").body();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("statesync_node_state_loads_total")
                && l.contains("outcome=\"loaded\"") && !l.endsWith(" 0.0")), "the state came by the state loader");
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("statesync_node_prefetch_fetched_bytes_total ")
                && !l.endsWith(" 0.0")), "the head start fetched a saved state: " + prefetchLines(metrics));
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("statesync_node_prefetch_lent_chunks_total ")
                && !l.endsWith(" 0.0")), "and lent its chunks to the load: " + prefetchLines(metrics));
        // The node's own account of its start, phase by phase, from its process start.
        // Caught up means promoted to a voter of every thread too, which waits on the leaders' next
        // configuration change: on a busy machine that alone has taken over 30 s.
        Await.until("the joiner reports caught_up", Duration.ofSeconds(90),
                () -> statusBody(joiner).contains("\"caught_up\""));
        JsonNode startup = JSON.readTree(get(joiner, "/node/status").body()).path("startup");
        for (String phase : List.of("api", "gossip", "groups", "first_chunk", "fetched", "installed", "caught_up")) {
            assertTrue(startup.path(phase).asDouble(-1) > 0, phase + " in " + startup);
        }
        assertTrue(startup.path("first_chunk").asDouble() <= startup.path("installed").asDouble(), startup.toString());
        // Once caught up the head start's store is gone; the chunks live on in the groups' stores.
        Await.until("the head start store removed", Duration.ofSeconds(10),
                () -> !Files.exists(four.dataDir().resolve("prefetch")));

        // Production paused everywhere: every node stands at the same height with the same root.
        for (Node n : nodes) {
            for (ThreadId t : THREADS) {
                post(n, "/admin/producer/" + t.name() + "/pause", new byte[0]);
            }
        }
        Await.until("every node at one height of every thread", Duration.ofSeconds(30),
                () -> THREADS.stream().allMatch(t -> nodes.stream().map(n -> status(n, t).path("height").asLong())
                        .distinct().count() == 1));
        for (ThreadId t : THREADS) {
            List<String> roots = nodes.stream().map(n -> status(n, t).path("stateRoot").asText()).distinct().toList();
            assertEquals(1, roots.size(), "thread " + t.name() + " roots " + roots);
        }
        assertEquals(1_000_000 - 0, balance(joiner, THREADS.get(0), writer).orElseThrow());
    }

    @Test
    @Order(11)
    void everyMetricANodeExposesIsDocumented() throws Exception {
        // After the join above the nodes have produced, saved, shared, fetched and loaded: the
        // union of their metric families is what an operator sees, and docs/metrics.md names each.
        java.util.SortedMap<String, String> families = new java.util.TreeMap<>();
        java.util.Map<String, java.util.SortedSet<String>> labels = new java.util.HashMap<>();
        for (Node n : nodes) {
            String page = get(n, "/metrics").body();
            String help = "";
            String family = "";
            for (String l : page.lines().toList()) {
                if (l.startsWith("# HELP ")) {
                    help = l.substring(7);
                } else if (l.startsWith("# TYPE ")) {
                    String[] f = l.substring(7).split(" ");
                    family = f[0];
                    String doc = help.startsWith(f[0] + " ") ? help.substring(f[0].length() + 1) : "";
                    families.merge(f[0], f[1] + " | " + doc, (a, b) -> a);
                } else if (!l.startsWith("#") && l.contains("{")) {
                    java.util.SortedSet<String> keys = labels.computeIfAbsent(family, k -> new java.util.TreeSet<>());
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("([a-z_]+)=\"").matcher(l);
                    while (m.find()) {
                        keys.add(m.group(1));
                    }
                }
            }
        }
        families.replaceAll((f, v) -> v + " | " + String.join(",", labels.getOrDefault(f, new java.util.TreeSet<>())));
        Files.createDirectories(Path.of("target"));
        Files.write(Path.of("target/metric-families.txt"),
                families.entrySet().stream().map(e -> e.getKey() + " | " + e.getValue()).toList());
        // Prometheus's own parser reads every node's page; its linter finds nothing in our families
        // (the two it flags come from Micrometer's process binders and keep their usual names).
        java.util.Optional<Path> promtool = Promtool.find();
        if (promtool.isPresent()) {
            for (Node n : nodes) {
                Promtool.Result r = Promtool.checkMetrics(promtool.get(), get(n, "/metrics").body());
                assertTrue(r.exitCode() == 0 || r.exitCode() == 3, "promtool could not parse the page: " + r.output());
                List<String> problems = r.output().lines().filter(l -> !l.isBlank())
                        .filter(l -> !l.startsWith("process_cpu_time_ns_total ") && !l.startsWith("system_cpu_count "))
                        .toList();
                assertEquals(List.of(), problems, "promtool's findings");
            }
        } else {
            System.err.println("NodeClusterTest: skipping the promtool check: " + Promtool.whyMissing);
        }
        // The shipped alert rules parse, and every metric they name is one these nodes expose.
        Path alerts = Path.of("../ops/prometheus/alerts.yml");
        java.util.regex.Matcher named = java.util.regex.Pattern.compile("\\bstatesync_[a-z_]+")
                .matcher(Files.readString(alerts));
        List<String> unknown = new ArrayList<>();
        while (named.find()) {
            if (!families.containsKey(named.group())) {
                unknown.add(named.group());
            }
        }
        assertEquals(List.of(), unknown, "alerts.yml names metrics no node exposes");
        if (promtool.isPresent()) {
            Process p = new ProcessBuilder(promtool.get().toString(), "check", "rules", alerts.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), "promtool check rules: " + out);
        }
        String docs = Files.readString(Path.of("../docs/metrics.md"));
        List<String> missing = families.keySet().stream().filter(f -> !docs.contains("`" + f + "`")).toList();
        assertEquals(List.of(), missing, "metrics missing from docs/metrics.md (all: target/metric-families.txt)");
    }

    /** Families a dashboard panel may name that appear only after their event (see the check below). */
    private static final java.util.Set<String> EVENT_ONLY = java.util.Set.of("statesync_groups_sync_bytes_total");

    @Test
    @Order(12)
    void theShippedDashboardQueriesOnlyMetricsTheNodesExpose() throws Exception {
        assertTrue(Files.readString(Path.of("../docs/metrics.md")).contains("`statesync_groups_sync_bytes_total`"),
                "the families allowed to be missing below are still documented");
        JsonNode dashboard = JSON.readTree(Files.readString(Path.of("../ops/grafana/statesync.json")));
        assertEquals(List.of(), DashboardQueries.problems(dashboard), "ops/grafana/statesync.json");
        List<DashboardQueries.Query> queries = DashboardQueries.queries(dashboard);
        // Every node's page, the joiner's included: some families (fetches, loads) only exist where
        // their event happened, and a Prometheus scraping the cluster sees the union.
        List<String> pages = new ArrayList<>();
        for (Node n : nodes) {
            pages.add(get(n, "/metrics").body());
        }
        DashboardQueries.Families families = DashboardQueries.Families.of(pages);
        Map<String, java.util.SortedSet<String>> unknown = new TreeMap<>();
        for (DashboardQueries.Query q : queries) {
            java.util.SortedSet<String> names = DashboardQueries.metricNames(DashboardQueries.substitute(q.expr()));
            // A query that names no metric could not be checked here, and shows nothing on a panel.
            java.util.SortedSet<String> bad = names.isEmpty() ? new java.util.TreeSet<>(List.of("(no metric)"))
                    : families.missing(names);
            // Bytes a catch-up fetched from peers exist only if one did: a joiner whose head start
            // already holds every chunk of the state it loads fetches none from its peers.
            bad.removeAll(EVENT_ONLY);
            if (!bad.isEmpty()) {
                unknown.put(q.where() + ": " + q.expr(), bad);
            }
        }
        // Prometheus's parser reads each expression as Grafana would send it; both findings are
        // reported together, so one run tells every fault of the file.
        java.util.Optional<Path> promtool = Promtool.find();
        Promtool.Result parsed = new Promtool.Result(0, "");
        Path rules = Path.of("target", "dashboard-rules.yml");
        if (promtool.isPresent()) {
            Files.createDirectories(rules.getParent());
            Files.writeString(rules, DashboardQueries.recordingRules(queries));
            parsed = Promtool.checkRules(promtool.get(), rules);
        } else {
            System.err.println("NodeClusterTest: skipping the dashboard's promtool check: " + Promtool.whyMissing);
        }
        Promtool.Result r = parsed;
        org.junit.jupiter.api.Assertions.assertAll(
                () -> assertEquals(Map.of(), unknown, "dashboard queries naming metrics no node exposes"),
                () -> assertEquals(0, r.exitCode(), () -> "promtool check rules " + rules + ": " + r.output()
                        + "\nwhere dashboard_query_<i> comes from:\n" + java.util.stream.IntStream.range(0, queries.size())
                        .mapToObj(i -> i + ": " + queries.get(i).where()).collect(java.util.stream.Collectors.joining("\n"))));
    }

    // ---- helpers ----

    /** The names of the save bases under a data directory (a look while saves may be landing). */
    private static List<String> bases(Path dataDir) {
        try (java.util.stream.Stream<Path> walk = Files.walk(dataDir)) {
            return walk.map(p -> p.getFileName().toString()).filter(n -> n.matches("base-[0-9]+")).toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return List.of(); // a directory went away during the walk; look again
        }
    }

    private static String statusBody(Node n) {
        try {
            return get(n, "/node/status").body();
        } catch (Exception e) {
            return "";
        }
    }

    private static String prefetchLines(String metrics) {
        return String.join("; ", metrics.lines().filter(l -> l.startsWith("statesync_node_prefetch")).toList());
    }

    private static Transaction transfer(ThreadId t, Signer to, long amount) {
        long nonce;
        synchronized (nonces) {
            nonce = nonces.merge(t, 1L, Long::sum) - 1;
        }
        return Transaction.transfer(TestNodes.FAUCET, t, nonce, to.account(), amount);
    }

    private static Node leaderOf(ThreadId t) {
        for (Node n : nodes) {
            if ("LEADER".equals(status(n, t).path("role").asText())) {
                return n;
            }
        }
        return null;
    }

    private static JsonNode status(Node n, ThreadId t) {
        try {
            for (JsonNode s : JSON.readTree(get(n, "/node/status").body()).path("threads")) {
                if (s.path("thread").asText().equals(t.name())) {
                    return s;
                }
            }
        } catch (Exception e) {
            // not answering yet
        }
        return JSON.createObjectNode();
    }

    private static java.util.Optional<Long> balance(Node n, ThreadId t, Signer who) {
        try {
            HttpResponse<String> r = get(n, "/node/balance?thread=" + t.name() + "&account=" + who.account().hex());
            return r.statusCode() == 200 ? java.util.Optional.of(JSON.readTree(r.body()).path("balance").asLong())
                    : java.util.Optional.empty();
        } catch (Exception e) {
            return java.util.Optional.empty();
        }
    }


    /** The admin API answers on its own listener; everything else on the node's port. */
    private static URI at(Node n, String path) {
        return URI.create((path.startsWith("/admin/") ? n.adminUri() : n.uri()) + path);
    }

    private static HttpResponse<String> get(Node n, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(at(n, path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> post(Node n, String path, byte[] body) throws Exception {
        return http.send(HttpRequest.newBuilder(at(n, path))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
