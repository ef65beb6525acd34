package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.SimpleFileServer;
import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
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
 * The operator's sync controls through the admin API, on real nodes in this JVM: a node (n3)
 * that stopped early comes back while the two others are down, so its threads stand behind with
 * no leader to bring them up; the saved states it loads are on a static storage (a copy of n1's
 * thread stores behind the JDK's file server, which the test can hold back or corrupt). Then the
 * others come back, and all three go on from the loaded states.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SyncControlsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<ThreadId> THREADS = List.of(new ThreadId("t0"), new ThreadId("t1"));
    private static final Signer ALICE = Signer.fromPhrase("sync-controls-alice");

    @TempDir
    static Path dir;
    private static HttpClient http;
    private static List<NodeConfig> configs;
    private static final Node[] nodes = new Node[3];
    private static HttpServer staticServer;
    private static Path staticDir;
    /** Held closed, the requests to the static storage that {@link #held} picks wait. */
    private static volatile CountDownLatch chunkGate = new CountDownLatch(0);
    private static volatile java.util.function.Predicate<String> held = path -> path.startsWith("/ipfs/bafkrei");
    /** n1's two newest saved states per thread, oldest first. */
    private static final Map<ThreadId, List<SnapshotRecord>> saved = new TreeMap<>(
            java.util.Comparator.comparing(ThreadId::name));
    private static final Map<ThreadId, Long> heightBefore = new TreeMap<>(java.util.Comparator.comparing(ThreadId::name));

    @BeforeAll
    static void start() throws Exception {
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        staticDir = Files.createDirectories(dir.resolve("static"));
        HttpHandler files = SimpleFileServer.createFileHandler(staticDir.toAbsolutePath());
        staticServer = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        staticServer.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        staticServer.createContext("/", exchange -> {
            if (held.test(exchange.getRequestURI().getPath())) {
                try {
                    chunkGate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            files.handle(exchange);
        });
        staticServer.start();
        URI storage = URI.create("http://127.0.0.1:" + staticServer.getAddress().getPort() + "/");

        configs = new ArrayList<>(TestNodes.configure(dir, 3, THREADS, 4, false));
        NodeConfig c3 = configs.get(2);
        configs.set(2, new NodeConfig(c3.id(), c3.dataDir(), c3.host(), c3.httpPort(), c3.httpRateLimit(),
                c3.gossipPort(), c3.gossipSeeds(), c3.threads(), c3.members(), c3.producer(), c3.saveStateEvery(),
                new NodeConfig.Sync(List.of(storage), c3.sync().maxTries(), c3.sync().retryWait(),
                        Duration.ofMinutes(1), c3.sync().retainSnapshots(), c3.sync().stallTimeout()),
                c3.genesis(), c3.join()));
        for (int i = 0; i < 3; i++) {
            nodes[i] = Node.start(configs.get(i));
        }
        Await.until("a leader of every thread", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> leaderOf(t) != null));
        Await.until("n3 at height 2 of every thread", Duration.ofSeconds(30),
                () -> THREADS.stream().allMatch(t -> height(nodes[2], t) >= 2));

        // n3 stops early; the others take transactions and save states past it.
        nodes[2].close();
        nodes[2] = null;
        // n3 may have led a thread: wait for the other two to elect a leader in its place.
        Await.until("a leader of every thread without n3", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> leaderOf(t) != null));
        long nonce0 = 0;
        for (ThreadId t : THREADS) {
            assertEquals(202, post(leaderOf(t), "/node/tx", Transaction.transfer(TestNodes.FAUCET, t, nonce0,
                    ALICE.account(), 777).encode()).statusCode());
        }
        Await.until("the transfer applied on n1 on every thread", Duration.ofSeconds(30),
                () -> THREADS.stream().allMatch(t -> balance(nodes[0], t) == 777));
        Map<ThreadId, Long> paid = new TreeMap<>(java.util.Comparator.comparing(ThreadId::name));
        THREADS.forEach(t -> paid.put(t, height(nodes[0], t)));
        // Two saved states per thread, the older one past the transfer too.
        Await.until("two saves past the transfer on n1, every thread", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> nodes[0].thread(t.name()).orElseThrow().group().snapshots()
                        .stream().filter(s -> height(s) >= paid.get(t)).count() >= 2));
        for (Node n : List.of(nodes[0], nodes[1])) {
            for (ThreadId t : THREADS) {
                post(n, "/admin/producer/" + t.name() + "/pause", new byte[0]);
            }
        }
        Thread.sleep(500); // a save in progress is recorded, its pointer written
        for (ThreadId t : THREADS) {
            var group = nodes[0].thread(t.name()).orElseThrow().group();
            List<SnapshotRecord> all = group.snapshots();
            saved.put(t, all.subList(Math.max(0, all.size() - 2), all.size()));
            assertEquals(2, saved.get(t).size(), "two saved states of " + t.name());
            copyTree(group.store().root().resolve("ipfs"), staticDir.resolve("ipfs"));
            copyTree(group.store().root().resolve("blocks"), staticDir.resolve("blocks"));
        }
        nodes[0].close();
        nodes[1].close();
        nodes[0] = null;
        nodes[1] = null;

        // n3 comes back alone: behind on both threads, and no leader to catch it up.
        nodes[2] = Node.start(configs.get(2));
        for (ThreadId t : THREADS) {
            heightBefore.put(t, height(nodes[2], t));
            assertTrue(heightBefore.get(t) < height(saved.get(t).get(0)), "n3 is behind on " + t.name());
        }
    }

    @AfterAll
    static void stop() {
        for (Node n : nodes) {
            if (n != null) {
                n.close();
            }
        }
        chunkGate.countDown();
        if (staticServer != null) {
            staticServer.stop(0);
        }
        http.close();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @Order(1)
    @CsvSource(delimiter = '|', value = {
            "POST | /admin/sync/load           | empty       | 400 | empty body",
            "POST | /admin/sync/load           | garbage     | 400 | not JSON",
            "POST | /admin/sync/load           | array       | 400 | must be a JSON object",
            "POST | /admin/sync/load           | nothing     | 400 | name at least one thread",
            "POST | /admin/sync/load           | unknown     | 404 | thread t9 is not run by this node",
            "POST | /admin/sync/load           | malformed   | 400 | t0: block id: expected 64 hex digits",
            "POST | /admin/sync/load           | nothex      | 400 | t0: block id: not hex",
            "POST | /admin/sync/load           | number      | 400 | t0: the block id must be a string",
            "POST | /admin/sync/load           | unheard     | 404 | holds a saved state of block",
            "GET  | /admin/sync/load           | empty       | 405 | not allowed",
            "POST | /admin/sync/reset          | empty       | 409 | nothing to reset: no load is running or queued",
            "POST | /admin/sync/status         | empty       | 405 | not allowed",
            "GET  | /admin/sync/nothing        | empty       | 404 | use /admin/sync/load",
            "POST | /admin/sync/share?thread=t9 | empty      | 404 | thread t9 is not run by this node",
            "POST | /admin/sync/share?wait=soon | empty      | 400 | wait:",
            "POST | /admin/sync/share?wait=2m  | empty       | 400 | wait: at most 60s",
    })
    void badInputGetsA4xxWithOneLineSayingWhy(String method, String path, String body, int status, String reason)
            throws Exception {
        String text = switch (body) {
            case "garbage" -> "{not json";
            case "array" -> "[1]";
            case "nothing" -> "{}";
            case "unknown" -> "{\"t9\":\"" + "ab".repeat(32) + "\"}";
            case "malformed" -> "{\"t0\":\"abc\"}";
            case "nothex" -> "{\"t0\":\"" + "zz".repeat(32) + "\"}";
            case "number" -> "{\"t0\":5}";
            case "unheard" -> "{\"t0\":\"" + "ab".repeat(32) + "\"}";
            default -> "";
        };
        HttpResponse<String> res = http.send(HttpRequest.newBuilder(at(nodes[2], path))
                .method(method, HttpRequest.BodyPublishers.ofString(text)).build(), HttpResponse.BodyHandlers.ofString());

        assertEquals(status, res.statusCode(), res.body());
        assertTrue(res.body().contains(reason), res.body());
        assertFalse(res.body().strip().contains("\n"), "one line: " + res.body());
    }

    @Test
    @Order(2)
    void aBodyOverTheAdminLimitGets413() throws Exception {
        assertEquals(413, post(nodes[2], "/admin/sync/load", new byte[Node.MAX_ADMIN_BYTES + 1]).statusCode());
    }

    @Test
    @Order(3)
    void aLoadWhileAnotherRunsIsRefusedAndAResetCancelsIt() throws Exception {
        // Given a load whose chunks the static storage holds back
        chunkGate = new CountDownLatch(1);
        try {
            HttpResponse<String> queued = load(nodes[2], Map.of(THREADS.get(0), saved.get(THREADS.get(0)).get(1)));
            assertEquals(202, queued.statusCode(), queued.body());
            assertEquals("queued", JSON.readTree(queued.body()).path("status").asText());
            Await.until("the load running on n3", Duration.ofSeconds(20),
                    () -> sync(nodes[2]).path("threads").path("t0").has("load"));
            assertEquals("running", sync(nodes[2]).path("operatorLoad").path("state").asText());

            // When another load is asked for, it is refused with the reason
            HttpResponse<String> second = load(nodes[2], Map.of(THREADS.get(1), saved.get(THREADS.get(1)).get(1)));
            assertEquals(409, second.statusCode(), second.body());
            assertTrue(second.body().contains("is running"), second.body());

            // When the operator resets, the load ends cancelled and nothing was installed
            HttpResponse<String> reset = post(nodes[2], "/admin/sync/reset", new byte[0]);
            assertEquals(200, reset.statusCode(), reset.body());
            assertEquals("t0", JSON.readTree(reset.body()).path("threads").get(0).asText());
            Await.until("the load cancelled", Duration.ofSeconds(20),
                    () -> "cancelled".equals(sync(nodes[2]).path("operatorLoad").path("state").asText()));
            assertEquals(heightBefore.get(THREADS.get(0)), height(nodes[2], THREADS.get(0)));

            // And a second reset has nothing to cancel
            HttpResponse<String> again = post(nodes[2], "/admin/sync/reset", new byte[0]);
            assertEquals(409, again.statusCode(), again.body());
            assertTrue(again.body().contains("nothing to reset"), again.body());
        } finally {
            chunkGate.countDown();
        }
    }

    @Test
    @Order(4)
    void aLoadOfTwoThreadsWhereOneFailsCancelsTheOtherAndInstallsNeither() throws Exception {
        // Given t1's saved state has a chunk the static storage serves corrupted, and t0's own
        // chunks are held back (without a cancel, t0's fetch would wait out its 30 s chunk deadline)
        SnapshotRecord s0 = saved.get(THREADS.get(0)).get(0);
        SnapshotRecord s1 = saved.get(THREADS.get(1)).get(1);
        Set<Cid> t0Chunks = chunks(s0.manifest());
        Set<Cid> t1Chunks = chunks(s1.manifest());
        Cid victim = t1Chunks.stream().filter(c -> !t0Chunks.contains(c)).findFirst().orElseThrow();
        Set<String> t0Only = new HashSet<>();
        t0Chunks.stream().filter(c -> !t1Chunks.contains(c)).forEach(c -> t0Only.add("/ipfs/" + c));
        assertFalse(t0Only.isEmpty());
        Path blob = staticDir.resolve("ipfs").resolve(victim.toString());
        byte[] good = Files.readAllBytes(blob);
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x55;
        Files.write(blob, bad);
        held = t0Only::contains;
        chunkGate = new CountDownLatch(1);
        try {
            // When one task loads both
            long started = System.nanoTime();
            HttpResponse<String> queued = load(nodes[2], Map.of(THREADS.get(0), s0, THREADS.get(1), s1));
            assertEquals(202, queued.statusCode(), queued.body());

            // Then it fails naming t1, soon (t0's fetch was cancelled), and neither thread moved
            Await.until("the load failed", Duration.ofSeconds(60),
                    () -> "failed".equals(sync(nodes[2]).path("operatorLoad").path("state").asText()));
            assertTrue(System.nanoTime() - started < Duration.ofSeconds(20).toNanos(), "t0's fetch was cancelled");
            String reason = sync(nodes[2]).path("operatorLoad").path("reason").asText();
            assertTrue(reason.contains("thread t1"), reason);
            for (ThreadId t : THREADS) {
                assertEquals(heightBefore.get(t), height(nodes[2], t), t.name() + " unchanged");
            }

            // And the same load again right away is refused while it backs off
            HttpResponse<String> retry = load(nodes[2], Map.of(THREADS.get(0), s0, THREADS.get(1), s1));
            assertEquals(409, retry.statusCode(), retry.body());
            assertTrue(retry.body().contains("failed moments ago"), retry.body());
        } finally {
            chunkGate.countDown();
            Files.write(blob, good);
        }
    }

    @Test
    @Order(5)
    void aLoadOfTwoThreadsInstallsBothThroughTheirGroupsAndALoadBehindTheHeadIsRefused() throws Exception {
        Map<ThreadId, SnapshotRecord> newest = Map.of(THREADS.get(0), saved.get(THREADS.get(0)).get(1),
                THREADS.get(1), saved.get(THREADS.get(1)).get(1));

        HttpResponse<String> queued = load(nodes[2], newest);

        assertEquals(202, queued.statusCode(), queued.body());
        Await.until("the load done", Duration.ofSeconds(60),
                () -> "loaded".equals(sync(nodes[2]).path("operatorLoad").path("state").asText()));
        for (ThreadId t : THREADS) {
            JsonNode s = sync(nodes[2]).path("threads").path(t.name());
            assertEquals(height(newest.get(t)), s.path("height").asLong(), t.name());
            assertEquals(newest.get(t).metadata().get("block"), s.path("block").asText());
            assertEquals(newest.get(t).metadata().get("stateRoot"), s.path("stateRoot").asText());
            assertEquals(777, balance(nodes[2], t), "the transfer is in the loaded state of " + t.name());
        }

        // And a state at or below where a thread stands is refused at once
        HttpResponse<String> older = load(nodes[2], Map.of(THREADS.get(0), saved.get(THREADS.get(0)).get(0)));
        assertEquals(409, older.statusCode(), older.body());
        assertTrue(older.body().contains("at or past block") && older.body().contains("nothing to load"),
                older.body());
    }

    @Test
    @Order(6)
    void theOthersComeBackAndAllThreeGoOnFromTheLoadedStates() throws Exception {
        nodes[0] = Node.start(configs.get(0));
        nodes[1] = Node.start(configs.get(1));
        Await.until("a leader of every thread", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> leaderOf(t) != null));
        long target = THREADS.stream().mapToLong(t -> height(saved.get(t).get(1))).max().orElseThrow() + 20;
        Await.until("n3 at the target height of every thread", Duration.ofSeconds(60),
                () -> THREADS.stream().allMatch(t -> height(nodes[2], t) >= target));

        // A leader is never behind: a load there is refused
        Node leader = leaderOf(THREADS.get(0));
        HttpResponse<String> refused = load(leader, Map.of(THREADS.get(0), saved.get(THREADS.get(0)).get(1)));
        assertEquals(409, refused.statusCode(), refused.body());
        assertTrue(refused.body().contains("leads thread t0"), refused.body());

        for (Node n : nodes) {
            for (ThreadId t : THREADS) {
                post(n, "/admin/producer/" + t.name() + "/pause", new byte[0]);
            }
        }
        Await.until("every node at one height of every thread", Duration.ofSeconds(30),
                () -> THREADS.stream().allMatch(t -> Stream.of(nodes).map(n -> height(n, t)).distinct().count() == 1));
        for (ThreadId t : THREADS) {
            Set<String> roots = new HashSet<>();
            for (Node n : nodes) {
                roots.add(sync(n).path("threads").path(t.name()).path("stateRoot").asText());
                assertTrue(n.healthProblem() == null, n.config().id() + ": " + n.healthProblem());
            }
            assertEquals(1, roots.size(), t.name() + " roots " + roots);
        }

        // And a follower that stands level is refused too: its group's members offer their newest
        // saved state (production is paused, so it stays), which it already holds
        Node follower = Stream.of(nodes).filter(n -> n != leader).findFirst().orElseThrow();
        List<SnapshotRecord> own = follower.thread("t0").orElseThrow().group().snapshots();
        HttpResponse<String> level = load(follower, Map.of(THREADS.get(0), own.get(own.size() - 1)));
        assertEquals(409, level.statusCode(), level.body());
        assertTrue(level.body().contains("nothing to load"), level.body());
    }

    // ---- helpers ----

    private static HttpResponse<String> load(Node n, Map<ThreadId, SnapshotRecord> states) throws Exception {
        var body = JSON.createObjectNode();
        states.forEach((t, s) -> body.put(t.name(), s.metadata().get("block")));
        return post(n, "/admin/sync/load", body.toString().getBytes());
    }

    private static JsonNode sync(Node n) {
        try {
            return JSON.readTree(get(n, "/admin/sync/status").body());
        } catch (Exception e) {
            return JSON.createObjectNode();
        }
    }

    private static long balance(Node n, ThreadId t) {
        try {
            HttpResponse<String> r = get(n, "/node/balance?thread=" + t.name() + "&account=" + ALICE.account().hex());
            return r.statusCode() == 200 ? JSON.readTree(r.body()).path("balance").asLong() : -1;
        } catch (Exception e) {
            return -1;
        }
    }

    private static long height(SnapshotRecord s) {
        return Long.parseLong(s.metadata().get("height"));
    }

    private static long height(Node n, ThreadId t) {
        return n.thread(t.name()).orElseThrow().machine().read(io.statesync.node.ledger.Ledger::head).height();
    }

    private static Set<Cid> chunks(Cid manifest) throws Exception {
        ContentStore store = ContentStore.open(staticDir);
        Manifest m = SnapshotImporter.loadManifest(store, manifest, ManifestLimits.DEFAULT);
        Set<Cid> out = new HashSet<>();
        m.files().forEach(f -> out.addAll(f.chunks()));
        return out;
    }

    private static Node leaderOf(ThreadId t) {
        for (Node n : nodes) {
            if (n != null && "LEADER".equals(n.thread(t.name()).orElseThrow().groupStatus().role())) {
                return n;
            }
        }
        return null;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            walk.forEach(p -> {
                Path target = to.resolve(from.relativize(p).toString());
                try {
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(target);
                    } else if (!p.getFileName().toString().startsWith(".")) {
                        Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
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
        return http.send(HttpRequest.newBuilder(at(n, path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
