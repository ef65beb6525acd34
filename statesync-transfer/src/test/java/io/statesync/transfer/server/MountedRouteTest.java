package io.statesync.transfer.server;

import static io.statesync.transfer.server.RawResponse.connect;
import static io.statesync.transfer.server.RawResponse.exchange;
import static io.statesync.transfer.server.RawResponse.request;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Routes and stores mounted under a prefix of a running {@link FileShareServer}, over real loopback sockets. */
class MountedRouteTest {
    /** Upper bound on any wait in these tests: a hang fails the test instead of stalling the build. */
    private static final int READ_TIMEOUT_MILLIS = 5000;
    private static final int BLOB_SIZE = 64 * 1024;

    private static HttpClient http;

    static {
        // Every buffer the server allocates is tracked; a leak is logged as "LEAK:".
        System.setProperty("io.netty.leakDetection.level", "paranoid");
    }

    @TempDir
    Path dir;

    /** The server's own store, served at /ipfs/{cid}. */
    private ContentStore mainStore;
    /** A second store, mounted under a prefix. */
    private ContentStore groupStore;
    private PrometheusMeterRegistry registry;
    private FileShareServer server;
    /** Every request the recording route saw, in order. */
    private final BlockingQueue<RouteRequest> seen = new LinkedBlockingQueue<>();

    @BeforeAll
    static void client() {
        http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    @AfterAll
    static void closeClient() {
        http.close();
    }

    @BeforeEach
    void start() throws Exception {
        mainStore = ContentStore.open(dir.resolve("main"));
        groupStore = ContentStore.open(dir.resolve("group"));
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        server = FileShareServer.start(ServerConfig.loopback(), mainStore, registry);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    // ---- answering requests ----

    @Test
    void aMountedRouteAnswersWithItsBodyAndTypeAndIsNeverCached() throws Exception {
        server.mount("groups/g1", null, recording(RouteResponse.json("{\"ok\":true}")));

        HttpResponse<byte[]> res = get("/groups/g1/info?x=1");

        assertEquals(200, res.statusCode());
        assertEquals("{\"ok\":true}", new String(res.body(), UTF_8));
        assertEquals("application/json", header(res, "content-type"));
        assertEquals("no-store", header(res, "cache-control"));
        assertEquals("nosniff", header(res, "x-content-type-options"));
        RouteRequest req = nextSeen();
        assertEquals("GET", req.method());
        assertEquals(List.of("info"), req.path());
        assertEquals("info", req.route());
        assertEquals(Map.of("x", List.of("1")), req.query());
    }

    @Test
    void theRouteSeesDecodedPathsAndQueriesAndThePrefixItself() throws Exception {
        server.mount("/groups/g1/", null, recording(RouteResponse.binary(new byte[] {1, 2, 3})));

        HttpResponse<byte[]> res = get("/groups/g1/log/entries%20all?from=3&tag=a&tag=b%26c&q=two+words");
        assertEquals(200, res.statusCode());
        assertArrayEquals(new byte[] {1, 2, 3}, res.body());
        assertEquals("application/octet-stream", header(res, "content-type"));
        RouteRequest req = nextSeen();
        assertEquals(List.of("log", "entries all"), req.path());
        assertEquals(List.of("a", "b&c"), req.query().get("tag"));
        assertEquals("two words", req.param("q"));
        assertEquals(3, req.longParam("from"));

        assertEquals(200, get("/groups/g1").statusCode());
        assertEquals(List.of(), nextSeen().path());
    }

    @Test
    void headToARouteAnnouncesTheBodyWithoutSendingIt() throws Exception {
        server.mount("groups/g1", null, recording(RouteResponse.json("{\"n\":12345}")));

        RawResponse res = exchange(server, request("HEAD /groups/g1/info"));

        assertEquals(200, res.status());
        assertEquals(String.valueOf("{\"n\":12345}".length()), res.headers().get("content-length"));
        assertEquals("HEAD", nextSeen().method());
        // The body was left out: the connection is quiet until the next request's answer.
        try (Socket s = connect(server)) {
            s.getOutputStream().write(request("HEAD /groups/g1/info"));
            s.getOutputStream().write(request("GET /health"));
            InputStream in = s.getInputStream();
            assertEquals(200, RawResponse.read(in, true).status());
            assertEquals("ok\n", new String(RawResponse.read(in, false).body(), UTF_8));
        }
    }

    @Test
    void anAnswerAlreadyDecidedWhenTheServerClosesStillReachesItsClient() throws Exception {
        // Like a node's "leave": answering is what makes the owner close the server.
        CountDownLatch answered = new CountDownLatch(1);
        server.mount("admin", null, request -> {
            answered.countDown();
            try {
                Thread.sleep(300); // the close starts while this answer is still being made
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return RouteResponse.json("{\"left\":true}");
        });
        Thread closer = Thread.ofVirtual().name("test-closer").start(() -> {
            try {
                answered.await();
            } catch (InterruptedException e) {
                return;
            }
            server.close();
        });

        HttpResponse<byte[]> res = send("POST", "/admin/leave", BodyPublishers.noBody());
        closer.join(READ_TIMEOUT_MILLIS);

        assertEquals(200, res.statusCode());
        assertEquals("{\"left\":true}", new String(res.body(), UTF_8));
        assertThrows(IOException.class, () -> new Socket("127.0.0.1", server.port()).close(), "closed after");
    }

    @Test
    void postAndDeleteReachTheRouteWhileTheServersOwnPathsStillRefuseThem() throws Exception {
        server.mount("groups/g1", null, request -> {
            seen.add(request);
            return new RouteResponse(request.method().equals("POST") ? 201 : 200, "text/plain", request.method().getBytes(UTF_8));
        });

        HttpResponse<byte[]> post = send("POST", "/groups/g1/join", BodyPublishers.ofString("ignored body"));
        HttpResponse<byte[]> delete = send("DELETE", "/groups/g1/members/n2", BodyPublishers.noBody());

        assertEquals(201, post.statusCode());
        assertEquals("POST", new String(post.body(), UTF_8));
        assertEquals(200, delete.statusCode());
        assertEquals("DELETE", new String(delete.body(), UTF_8));
        assertEquals(List.of("join"), nextSeen().path());
        assertEquals(List.of("members", "n2"), nextSeen().path());

        Cid cid = mainStore.put(Codec.RAW, "blob".getBytes(UTF_8));
        HttpResponse<byte[]> refused = send("POST", "/ipfs/" + cid, BodyPublishers.ofString("x"));
        assertEquals(405, refused.statusCode());
        assertEquals("GET, HEAD", header(refused, "allow"));
        assertEquals(405, send("POST", "/health", BodyPublishers.noBody()).statusCode());
    }

    @Test
    void aMountThatAcceptsBodiesHandsTheWholeBodyToTheRouteAndKeepsTheConnection() throws Exception {
        server.mount("node", null, request -> {
            seen.add(request);
            return RouteResponse.binary(request.body());
        }, 256 * 1024);
        byte[] big = randomBytes(200 * 1024, 7);

        HttpResponse<byte[]> res = send("POST", "/node/tx", BodyPublishers.ofByteArray(big));
        assertEquals(200, res.statusCode());
        assertArrayEquals(big, res.body());
        assertArrayEquals(big, nextSeen().body());

        // A chunked body (no Content-Length) is read as well.
        HttpResponse<byte[]> chunked = send("PUT", "/node/tx",
                BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(big)));
        assertEquals(200, chunked.statusCode());
        assertArrayEquals(big, chunked.body());
        nextSeen();

        // GET to the same mount has an empty body, and the route still answers.
        assertEquals(200, get("/node/status").statusCode());
        assertEquals(0, nextSeen().body().length);
    }

    @Test
    void aBodyOverTheMountsLimitGets413AndTheServerKeepsServing() throws Exception {
        server.mount("node", null, recording(RouteResponse.json("{}")), 1024);

        HttpResponse<byte[]> declared = send("POST", "/node/tx", BodyPublishers.ofByteArray(new byte[4096]));
        assertEquals(413, declared.statusCode());
        assertTrue(new String(declared.body(), UTF_8).contains("exceeds 1024 bytes"));

        HttpResponse<byte[]> chunked = send("POST", "/node/tx",
                BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(new byte[64 * 1024])));
        assertEquals(413, chunked.statusCode());

        assertTrue(seen.isEmpty(), "the route never saw an oversized body");
        assertEquals(200, send("POST", "/node/tx", BodyPublishers.ofByteArray(new byte[10])).statusCode());
        assertEquals(10, nextSeen().body().length);
    }

    @Test
    void aMountWithoutABodyLimitDoesNotReadBodies() throws Exception {
        server.mount("groups/g1", null, recording(RouteResponse.json("{}")));

        assertEquals(200, send("POST", "/groups/g1/x", BodyPublishers.ofByteArray(new byte[100])).statusCode());
        assertEquals(0, nextSeen().body().length);
    }

    @Test
    void aRouteRequiringAMethodRefusesOthersWith405() throws Exception {
        server.mount("groups/g1", null, request -> {
            request.requireMethod("GET");
            return RouteResponse.json("{}");
        });

        HttpResponse<byte[]> res = send("PUT", "/groups/g1/x", BodyPublishers.ofString("x"));

        assertEquals(405, res.statusCode());
        assertEquals("405 method PUT not allowed here: use GET\n", new String(res.body(), UTF_8));
    }

    // ---- failures ----

    @Test
    void aRouteExceptionBecomesItsStatusWithTheReasonOnOneLine() throws Exception {
        server.mount("groups/g1", null, request -> {
            throw new RouteException(409, "term 7 is behind the leader's term 9");
        });

        HttpResponse<byte[]> res = get("/groups/g1/append");

        assertEquals(409, res.statusCode());
        assertEquals("409 term 7 is behind the leader's term 9\n", new String(res.body(), UTF_8));
        assertEquals("text/plain; charset=utf-8", header(res, "content-type"));
        assertEquals("no-store", header(res, "cache-control"));
        assertTrue(scrape().contains("statesync_share_requests_total{status=\"409\"} 1.0"));
    }

    @Test
    void aCrashingRouteGets500AndTheServerKeepsServing() throws Exception {
        server.mount("groups/g1", null, request -> {
            if (request.route().equals("crash")) {
                throw new IllegalStateException("state machine exploded\nat /var/lib/secret/path");
            }
            return RouteResponse.json("{\"alive\":true}");
        });

        try (Socket s = connect(server)) {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write(request("GET /groups/g1/crash"));
            RawResponse crashed = RawResponse.read(in, false);
            assertEquals(500, crashed.status());
            String body = new String(crashed.body(), UTF_8);
            assertTrue(body.startsWith("500 "), body);
            assertTrue(body.endsWith("\n") && body.indexOf('\n') == body.length() - 1, "one line: " + body);
            assertFalse(body.contains("/var/lib/secret"), "internals stay in the log: " + body);
            assertFalse("close".equals(crashed.headers().get("connection")), "a route failure keeps the connection");

            // The same keep-alive connection answers the next request.
            out.write(request("GET /groups/g1/fine"));
            RawResponse next = RawResponse.read(in, false);
            assertEquals(200, next.status());
            assertEquals("{\"alive\":true}", new String(next.body(), UTF_8));
        }
        assertEquals("ok\n", new String(get("/health").body(), UTF_8));
    }

    @Test
    void aRouteThrowingACheckedExceptionItDidNotDeclareStillGets500() throws Exception {
        // Java forbids it, but other JVM languages (or a sneaky throw) let a checked exception
        // escape Route.handle; the client must still get an answer, not a hung connection.
        server.mount("groups/g1", null, request -> sneakyThrow(new IOException("disk gone")));

        try (Socket s = connect(server)) {
            s.getOutputStream().write(request("GET /groups/g1/x"));
            assertEquals(500, RawResponse.read(s.getInputStream(), false).status());
            s.getOutputStream().write(request("GET /health"));
            assertEquals(200, RawResponse.read(s.getInputStream(), false).status());
        }
    }

    @Test
    void parameterErrorsBecome400WithTheReason() throws Exception {
        server.mount("groups/g1", null, request -> {
            long from = request.longParam("from");
            String peer = request.param("peer", "anyone");
            return RouteResponse.json("{\"from\":" + from + ",\"peer\":\"" + peer + "\"}");
        });

        assertEquals("{\"from\":5,\"peer\":\"anyone\"}", new String(get("/groups/g1/log?from=5").body(), UTF_8));
        assertEquals("{\"from\":0,\"peer\":\"n1\"}", new String(get("/groups/g1/log?from=0&peer=n1").body(), UTF_8));

        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("/groups/g1/log", "400 missing query parameter 'from'\n");
        cases.put("/groups/g1/log?from=1&from=2", "400 query parameter 'from' given more than once\n");
        cases.put("/groups/g1/log?from=ten", "400 query parameter 'from' is not an integer\n");
        cases.put("/groups/g1/log?from=", "400 query parameter 'from' is not an integer\n");
        cases.put("/groups/g1/log?from=99999999999999999999", "400 query parameter 'from' is not an integer\n");
        cases.put("/groups/g1/log?from=-1", "400 query parameter 'from' must not be negative\n");
        cases.put("/groups/g1/log?from=1&peer=a&peer=b", "400 query parameter 'peer' given more than once\n");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            HttpResponse<byte[]> res = get(c.getKey());
            assertEquals(400, res.statusCode(), c.getKey());
            assertEquals(c.getValue(), new String(res.body(), UTF_8), c.getKey());
            assertEquals("no-store", header(res, "cache-control"), c.getKey());
        }
    }

    // ---- a mount's own store ----

    @Test
    void theMountsStoreIsServedBelowItsPrefixWithTheGuaranteesOfTheMainStore() throws Exception {
        byte[] data = randomBytes(BLOB_SIZE, 1);
        Cid cid = groupStore.put(Codec.RAW, data);
        server.mount("groups/g1", groupStore, recording(RouteResponse.json("{}")));

        HttpResponse<byte[]> whole = get("/groups/g1/ipfs/" + cid);
        assertEquals(200, whole.statusCode());
        assertArrayEquals(data, whole.body());
        assertEquals("\"" + cid + "\"", header(whole, "etag"));
        assertEquals("public, max-age=29030400, immutable", header(whole, "cache-control"));
        assertEquals("application/vnd.ipld.raw", header(whole, "content-type"));

        HttpResponse<byte[]> slice = get("/groups/g1/ipfs/" + cid, "Range", "bytes=100-199");
        assertEquals(206, slice.statusCode());
        assertArrayEquals(Arrays.copyOfRange(data, 100, 200), slice.body());
        assertEquals("bytes 100-199/" + BLOB_SIZE, header(slice, "content-range"));

        assertEquals(304, get("/groups/g1/ipfs/" + cid, "If-None-Match", "\"" + cid + "\"").statusCode());
        assertEquals(400, get("/groups/g1/ipfs/bafk!!!").statusCode());
        assertEquals(400, get("/groups/g1/ipfs").statusCode());
        assertEquals(404, get("/groups/g1/ipfs/" + cid + "/inner").statusCode());

        HttpResponse<byte[]> post = send("POST", "/groups/g1/ipfs/" + cid, BodyPublishers.ofString("x"));
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", header(post, "allow"));
        assertTrue(groupStore.has(cid));
        assertTrue(seen.isEmpty(), "blob requests never reach the route: " + seen);
    }

    @Test
    void eachStoreIsServedOnlyAtItsOwnPath() throws Exception {
        Cid onlyMain = mainStore.put(Codec.RAW, "main only".getBytes(UTF_8));
        Cid onlyGroup = groupStore.put(Codec.RAW, "group only".getBytes(UTF_8));
        server.mount("groups/g1", groupStore, recording(RouteResponse.json("{}")));

        HttpResponse<byte[]> mainUnderMount = get("/groups/g1/ipfs/" + onlyMain);
        assertEquals(404, mainUnderMount.statusCode());
        assertEquals("404 blob not found: " + onlyMain + "\n", new String(mainUnderMount.body(), UTF_8));
        assertEquals(404, get("/ipfs/" + onlyGroup).statusCode());

        assertEquals("main only", new String(get("/ipfs/" + onlyMain).body(), UTF_8));
        assertEquals("group only", new String(get("/groups/g1/ipfs/" + onlyGroup).body(), UTF_8));
    }

    @Test
    void withoutAStoreIpfsBelowTheMountIsTheRoutes() throws Exception {
        Cid cid = mainStore.put(Codec.RAW, "main".getBytes(UTF_8));
        server.mount("groups/g1", null, recording(RouteResponse.json("{\"route\":true}")));

        HttpResponse<byte[]> res = get("/groups/g1/ipfs/" + cid);

        assertEquals("{\"route\":true}", new String(res.body(), UTF_8));
        assertEquals(List.of("ipfs", cid.toString()), nextSeen().path());
    }

    // ---- mounting and unmounting ----

    @Test
    void closingTheHandleUnmountsThePrefix() throws Exception {
        Cid cid = groupStore.put(Codec.RAW, "group".getBytes(UTF_8));
        AutoCloseable handle = server.mount("groups/g1", groupStore, recording(RouteResponse.json("{}")));
        assertEquals(200, get("/groups/g1/info").statusCode());
        assertEquals(200, get("/groups/g1/ipfs/" + cid).statusCode());

        handle.close();

        assertEquals(404, get("/groups/g1/info").statusCode());
        assertEquals(404, get("/groups/g1/ipfs/" + cid).statusCode());
        assertEquals(1, seen.size());
        // The prefix is free again.
        server.mount("groups/g1", null, recording(RouteResponse.json("{}"))).close();
    }

    @Test
    void closingAnOldHandleAgainLeavesANewerMountAlone() throws Exception {
        Route route = recording(RouteResponse.json("{\"v\":1}"));
        AutoCloseable first = server.mount("groups/g1", groupStore, route);
        first.close();
        // The same group mounts again with the same store and route, as after a rejoin.
        AutoCloseable second = server.mount("groups/g1", groupStore, route);

        first.close();

        assertEquals(200, get("/groups/g1/info").statusCode(), "the second mount must survive the first handle");
        second.close();
        assertEquals(404, get("/groups/g1/info").statusCode());
    }

    @Test
    void mountingAPrefixTwiceIsRefused() throws Exception {
        server.mount("groups/g1", null, recording(RouteResponse.json("{\"first\":true}")));

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> server.mount("groups/g1", null, recording(RouteResponse.json("{}"))));
        assertTrue(e.getMessage().contains("/groups/g1"), e.getMessage());
        assertThrows(IllegalStateException.class,
                () -> server.mount("/groups/g1/", null, recording(RouteResponse.json("{}"))));
        assertEquals("{\"first\":true}", new String(get("/groups/g1/x").body(), UTF_8));
    }

    @Test
    void prefixesTheServerOwnsOrThatAreNotPlainSegmentsAreRefused() {
        for (String prefix : new String[] {"ipfs", "metrics", "health", "ipfs/x", "", "/", "a/../b", "./a", "a//b",
                                           "a/."}) {
            assertThrows(IllegalArgumentException.class,
                    () -> server.mount(prefix, null, recording(RouteResponse.json("{}"))), "'" + prefix + "'");
        }
        assertThrows(NullPointerException.class, () -> server.mount("groups/g1", null, null));
    }

    @Test
    void theServersOwnEndpointsKeepWorkingWithMounts() throws Exception {
        Cid cid = mainStore.put(Codec.RAW, "main".getBytes(UTF_8));
        server.mount("groups", null, recording(RouteResponse.json("{}")));
        server.mount("healthz", null, recording(RouteResponse.json("{\"healthz\":true}")));

        assertEquals("ok\n", new String(get("/health").body(), UTF_8));
        assertEquals("main", new String(get("/ipfs/" + cid).body(), UTF_8));
        assertEquals(200, get("/metrics").statusCode());
        assertEquals("{\"healthz\":true}", new String(get("/healthz").body(), UTF_8));
        assertEquals(404, get("/other").statusCode());
        assertEquals(1, seen.size());
    }

    @Test
    void aRootMountAnswersTheRootOnlyAndEverythingElseKeepsItsMeaning() throws Exception {
        assertEquals(404, get("/").statusCode(), "no root mount: / is unknown");
        Cid cid = mainStore.put(Codec.RAW, "main".getBytes(UTF_8));
        server.mount("node", null, recording(RouteResponse.json("{\"node\":true}")));
        AutoCloseable root = server.mountRoot(request -> {
            seen.add(request);
            request.requireMethod("GET", "HEAD");
            return new RouteResponse(200, "text/html; charset=utf-8", "<p>root</p>".getBytes(UTF_8));
        });

        HttpResponse<byte[]> page = get("/?refresh=1");
        assertEquals(200, page.statusCode());
        assertEquals("text/html; charset=utf-8", header(page, "content-type"));
        assertEquals("<p>root</p>", new String(page.body(), UTF_8));
        RouteRequest req = nextSeen();
        assertEquals(List.of(), req.path());
        assertEquals(Map.of("refresh", List.of("1")), req.query());

        HttpResponse<byte[]> post = send("POST", "/", BodyPublishers.ofString("x"));
        assertEquals(405, post.statusCode());
        assertTrue(new String(post.body(), UTF_8).contains("use GET or HEAD"));
        assertEquals("POST", nextSeen().method());

        // Only / itself: below the root, and at paths that also start with an empty segment, nothing changes
        assertEquals(404, get("/other").statusCode());
        // (on a raw socket: a URI resolver would read //x as a host)
        assertEquals(404, exchange(server, request("GET //x")).status());
        assertEquals("{\"node\":true}", new String(get("/node/status").body(), UTF_8));
        assertEquals("ok\n", new String(get("/health").body(), UTF_8));
        assertEquals("main", new String(get("/ipfs/" + cid).body(), UTF_8));
        assertEquals(200, get("/metrics").statusCode());
        assertEquals(List.of("status"), nextSeen().path());
        assertTrue(seen.isEmpty(), "the root route saw only requests for /: " + seen);

        IllegalStateException twice = assertThrows(IllegalStateException.class,
                () -> server.mountRoot(recording(RouteResponse.json("{}"))));
        assertTrue(twice.getMessage().contains("already mounted"), twice.getMessage());
        root.close();
        assertEquals(404, get("/").statusCode(), "unmounted");
    }

    // ---- concurrency ----

    @Test
    void aSlowRouteDoesNotHoldUpOtherConnections() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        server.mount("groups/g1", null, request -> {
            entered.countDown();
            try {
                // Blocks until the test lets it go (never longer than the bound).
                release.await(READ_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            finished.set(true);
            return RouteResponse.json("{\"slow\":true}");
        });

        try (Socket slow = connect(server); Socket other = connect(server)) {
            slow.getOutputStream().write(request("GET /groups/g1/slow"));
            assertTrue(entered.await(READ_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS), "the route was called");

            // While the route blocks, another connection is answered.
            other.getOutputStream().write(request("GET /health"));
            RawResponse health = RawResponse.read(other.getInputStream(), false);
            assertEquals(200, health.status());
            assertFalse(finished.get(), "health was answered while the route still blocked");

            release.countDown();
            RawResponse res = RawResponse.read(slow.getInputStream(), false);
            assertEquals(200, res.status());
            assertEquals("{\"slow\":true}", new String(res.body(), UTF_8));
        }
    }

    @Test
    void slowRoutesOnSeveralConnectionsRunAtTheSameTime() throws Exception {
        server.mount("groups/g1", null, request -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return RouteResponse.json("{}");
        });
        int n = 8;
        List<Socket> sockets = new ArrayList<>();
        try {
            long started = System.nanoTime();
            for (int i = 0; i < n; i++) {
                Socket s = connect(server);
                sockets.add(s);
                s.getOutputStream().write(request("GET /groups/g1/slow"));
            }
            for (Socket s : sockets) {
                assertEquals(200, RawResponse.read(s.getInputStream(), false).status());
            }
            long millis = (System.nanoTime() - started) / 1_000_000;
            // One after the other would take 2.4 s.
            assertTrue(millis < n * 300 / 2, n + " slow requests took " + millis + " ms");
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    // ---- routing ----

    @Test
    void theLongestMatchingPrefixWins() throws Exception {
        server.mount("groups", null, request -> RouteResponse.json("{\"mount\":\"groups\",\"path\":\"" + request.route() + "\"}"));
        server.mount("groups/g1", null, request -> RouteResponse.json("{\"mount\":\"g1\",\"path\":\"" + request.route() + "\"}"));

        assertEquals("{\"mount\":\"g1\",\"path\":\"x\"}", new String(get("/groups/g1/x").body(), UTF_8));
        assertEquals("{\"mount\":\"g1\",\"path\":\"\"}", new String(get("/groups/g1").body(), UTF_8));
        assertEquals("{\"mount\":\"groups\",\"path\":\"g2/x\"}", new String(get("/groups/g2/x").body(), UTF_8));
        assertEquals("{\"mount\":\"groups\",\"path\":\"g10/x\"}", new String(get("/groups/g10/x").body(), UTF_8));
        assertEquals(404, get("/groupsx/g1/x").statusCode());
    }

    @Test
    void pathTricksBelowAMountAre400AndNeverReachTheRoute() throws Exception {
        server.mount("groups/g1", groupStore, recording(RouteResponse.json("{}")));
        server.mount("groups/x", null, recording(RouteResponse.json("{}")));
        String[] tricks = {
            "/groups/g1/../x", "/groups/g1/..", "/groups/g1/./info", "/groups/g1/%2e%2e/x", "/groups/g1/%2E%2E",
            "/groups/g1/a%2Fb", "/groups/g1/a%2fb", "/groups%2Fg1/info", "/groups/g1/a%5Cb", "/groups/g1/a\\b",
            "/groups/g1/%00", "/groups/g1/%zz", "/groups/g1/x?y=%0a", "/groups/g1/%c0%ae%c0%ae/x",
            "/groups/g1/ipfs/../../x", "/groups/g1/ipfs/..%2F..%2Fsecret",
        };
        for (String trick : tricks) {
            RawResponse res = exchange(server, request("GET " + trick));
            assertEquals(400, res.status(), trick);
            assertEquals("text/plain; charset=utf-8", res.headers().get("content-type"), trick);
        }
        assertTrue(seen.isEmpty(), "no trick reached a route: " + seen);
    }

    // ---- helpers ----

    /** A route that records each request and answers {@code response}. */
    private Route recording(RouteResponse response) {
        return request -> {
            seen.add(request);
            return response;
        };
    }

    private RouteRequest nextSeen() throws InterruptedException {
        RouteRequest r = seen.poll(READ_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        assertNotNull(r, "the route saw no request");
        return r;
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RouteResponse sneakyThrow(Throwable t) throws T {
        throw (T) t;
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(10));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), BodyHandlers.ofByteArray());
    }

    private HttpResponse<byte[]> send(String method, String path, HttpRequest.BodyPublisher body)
            throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(10))
                .method(method, body).build(), BodyHandlers.ofByteArray());
    }

    private static String header(HttpResponse<?> res, String name) {
        return res.headers().firstValue(name).orElse(null);
    }

    private String scrape() throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(server.uri().resolve("/metrics")).build(), BodyHandlers.ofString()).body();
    }

}
