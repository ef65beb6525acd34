package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.core.testing.Await;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.ThreadId;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saves on request (seed 002's "state sync requested") through the admin API of real nodes in
 * this JVM, whose threads never save on their own in the test's time (saveStateEvery 100 000):
 * a request makes every replica save the next block, all with one content address; a flood
 * within the interval makes no more saves; a joiner that asks first finds a fresh state.
 */
class ShareOnRequestTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<ThreadId> THREADS = List.of(new ThreadId("t0"), new ThreadId("t1"));

    @TempDir
    Path dir;
    private HttpClient http;
    private List<NodeConfig> configs;
    private final List<Node> nodes = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        configs = new ArrayList<>();
        for (NodeConfig c : TestNodes.configure(dir, 4, THREADS, 100_000, false)) {
            configs.add(withSync(c, c.sync().withShareInterval(Duration.ofHours(1))));
        }
        for (int i = 0; i < 3; i++) {
            nodes.add(Node.start(configs.get(i)));
        }
        Await.until("a leader of every thread", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> leaderOf(t) != null));
    }

    @AfterEach
    void stop() {
        nodes.forEach(Node::close);
        http.close();
    }

    @Test
    void aFloodOfRequestsToEveryNodeMakesEveryReplicaSaveTheNextBlockOnceWithOneCid() throws Exception {
        // Given no thread has saved a state
        for (Node n : nodes) {
            for (ThreadId t : THREADS) {
                assertTrue(saves(n, t).isEmpty(), n.config().id() + " " + t.name());
            }
        }

        // When 30 requests arrive at once, 10 at each node
        List<HttpResponse<String>> answers = new ArrayList<>();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<HttpResponse<String>>> fs = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                Node n = nodes.get(i % 3);
                fs.add(pool.submit(() -> post(n, "/admin/sync/share?wait=60s")));
            }
            for (Future<HttpResponse<String>> f : fs) {
                answers.add(f.get());
            }
        }

        // Then some were taken and the rest refused with the reason, each on one line
        long taken = answers.stream().filter(r -> r.statusCode() / 100 == 2).count();
        assertTrue(taken >= 1, "one request taken at least");
        for (HttpResponse<String> r : answers) {
            if (r.statusCode() / 100 != 2) {
                assertEquals(429, r.statusCode(), r.body());
                assertTrue(r.body().contains("at most one per 3600 s"), r.body());
                assertFalse(r.body().strip().contains("\n"), r.body());
            }
        }
        // (Each node claims all threads at once, but the groups order the nodes' requests thread by
        // thread, so one node's request may be granted on t0 and find t1 already saved: no single
        // answer need be 200. Every thread's granted request does see its save.)
        Map<String, JsonNode> savedAnswers = new HashMap<>();
        for (HttpResponse<String> r : answers) {
            if (r.statusCode() / 100 == 2) {
                JSON.readTree(r.body()).path("threads").properties().forEach(e -> {
                    if ("saved".equals(e.getValue().path("status").asText())) {
                        savedAnswers.putIfAbsent(e.getKey(), e.getValue());
                    }
                });
            }
        }
        assertEquals(THREADS.size(), savedAnswers.size(),
                "every thread's save seen by a request within the wait: " + answers.get(0).body());

        // And every replica saved each thread exactly once, at the same block, with one CID
        Await.until("one save of every thread on every node", Duration.ofSeconds(30),
                () -> nodes.stream().allMatch(n -> THREADS.stream().allMatch(t -> saves(n, t).size() == 1)));
        for (ThreadId t : THREADS) {
            Set<String> manifests = new HashSet<>();
            Set<String> blocks = new HashSet<>();
            for (Node n : nodes) {
                SnapshotRecord s = saves(n, t).get(0);
                manifests.add(s.manifest().toString());
                blocks.add(s.metadata().get("block"));
            }
            assertEquals(1, manifests.size(), t.name() + ": " + manifests);
            assertEquals(1, blocks.size(), t.name() + ": " + blocks);
            JsonNode a = savedAnswers.get(t.name());
            assertEquals("saved", a.path("status").asText(), a.toString());
            assertEquals(manifests.iterator().next(), a.path("manifest").asText());
            assertEquals(a.path("after").asLong() + 1, a.path("height").asLong(), "the block right after the request");
        }

        // And blocks go on without another save, and a later request is refused everywhere
        long height = status(nodes.get(0), THREADS.get(0)).path("height").asLong();
        Await.until("20 more blocks of t0", Duration.ofSeconds(30),
                () -> status(nodes.get(0), THREADS.get(0)).path("height").asLong() > height + 20);
        for (Node n : nodes) {
            HttpResponse<String> late = post(n, "/admin/sync/share");
            assertEquals(429, late.statusCode(), late.body());
            for (ThreadId t : THREADS) {
                assertEquals(1, saves(n, t).size(), n.config().id() + " " + t.name());
            }
        }
        String metrics = http.send(HttpRequest.newBuilder(URI.create(nodes.get(0).uri() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(metrics.contains("statesync_node_share_requests_total"), "counted");
    }

    @Test
    void aJoinerAsksForAFreshSaveBeforeItJoins() throws Exception {
        // Given a joiner configured to ask the node it joins through for a fresh state
        NodeConfig four = configs.get(3);
        NodeConfig joiner = new NodeConfig(four.id(), four.dataDir(), four.host(), four.httpPort(),
                four.httpRateLimit(), four.gossipPort(), four.gossipSeeds(), four.threads(), List.of(four.self()),
                four.producer(), four.saveStateEvery(), four.sync().withFreshStateOnJoin(true), four.genesis(),
                List.of(nodes.get(1).uri()));

        // When it starts
        nodes.add(Node.start(joiner));

        // Then every founder saved each thread once, at one block, before the joiner was added
        for (ThreadId t : THREADS) {
            Set<String> manifests = new HashSet<>();
            for (Node n : nodes.subList(0, 3)) {
                List<SnapshotRecord> s = saves(n, t);
                assertEquals(1, s.size(), n.config().id() + " " + t.name());
                manifests.add(s.get(0).manifest().toString());
            }
            assertEquals(1, manifests.size(), t.name() + ": " + manifests);
        }
        // And the joiner becomes a member of every thread and follows the head
        Node j = nodes.get(3);
        Await.until("the joiner a member of every thread", Duration.ofSeconds(120),
                () -> THREADS.stream().allMatch(t -> "member".equals(status(j, t).path("joining").asText())));
        long target = status(nodes.get(0), THREADS.get(0)).path("height").asLong();
        Await.until("the joiner at the head of t0", Duration.ofSeconds(60),
                () -> status(j, THREADS.get(0)).path("height").asLong() >= target);
    }

    // ---- helpers ----

    private static NodeConfig withSync(NodeConfig c, NodeConfig.Sync sync) {
        return new NodeConfig(c.id(), c.dataDir(), c.host(), c.httpPort(), c.httpRateLimit(), c.gossipPort(),
                c.gossipSeeds(), c.threads(), c.members(), c.producer(), c.saveStateEvery(), sync, c.genesis(),
                c.join());
    }

    private static List<SnapshotRecord> saves(Node n, ThreadId t) {
        return n.thread(t.name()).orElseThrow().group().snapshots().stream()
                .filter(s -> s.metadata().containsKey("block")).toList();
    }

    private Node leaderOf(ThreadId t) {
        for (Node n : nodes) {
            if ("LEADER".equals(n.thread(t.name()).orElseThrow().groupStatus().role())) {
                return n;
            }
        }
        return null;
    }

    private JsonNode status(Node n, ThreadId t) {
        try {
            for (JsonNode s : JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(n.uri() + "/node/status"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body()).path("threads")) {
                if (s.path("thread").asText().equals(t.name())) {
                    return s;
                }
            }
        } catch (Exception e) {
            // not answering yet
        }
        return JSON.createObjectNode();
    }

    private HttpResponse<String> post(Node n, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create((path.startsWith("/admin/") ? n.adminUri() : n.uri()) + path))
                .timeout(Duration.ofSeconds(90))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}
