package io.statesync.transfer.server;

import static io.statesync.transfer.server.RawResponse.connect;
import static io.statesync.transfer.server.RawResponse.exchange;
import static io.statesync.transfer.server.RawResponse.request;
import static io.statesync.transfer.server.RawResponse.readFully;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileShareServerTest {
    /** Upper bound on any wait in these tests: a hang fails the test instead of stalling the build. */
    private static final int READ_TIMEOUT_MILLIS = 5000;
    private static final int BLOB_SIZE = 100 * 1024;

    private static HttpClient http;

    static {
        // Every buffer the server allocates is tracked; a leak is logged as "LEAK:".
        System.setProperty("io.netty.leakDetection.level", "paranoid");
    }

    @TempDir
    Path dir;

    private ContentStore store;
    private PrometheusMeterRegistry registry;
    private FileShareServer server;
    private byte[] data;
    private Cid cid;

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
        store = ContentStore.open(dir.resolve("store"));
        data = new byte[BLOB_SIZE];
        new Random(42).nextBytes(data);
        cid = store.put(Codec.RAW, data);
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        server = FileShareServer.start(ServerConfig.loopback(), store, registry);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    // ---- serving blobs ----

    @Test
    void getServesTheExactBytesWithImmutableCachingHeaders() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid);

        assertEquals(200, res.statusCode());
        assertArrayEquals(data, res.body());
        assertEquals("\"" + cid + "\"", header(res, "etag"));
        assertEquals("public, max-age=29030400, immutable", header(res, "cache-control"));
        assertEquals("application/vnd.ipld.raw", header(res, "content-type"));
        assertEquals(String.valueOf(BLOB_SIZE), header(res, "content-length"));
        assertEquals("bytes", header(res, "accept-ranges"));
        assertEquals("nosniff", header(res, "x-content-type-options"));
    }

    @Test
    void blocksServesManyBlocksInOneResponseAndMarksTheMissingOnes() throws Exception {
        byte[] small = "small block".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        Cid smallCid = store.put(Codec.RAW, small);
        Cid absent = Cid.compute(Codec.RAW, new byte[] {1, 2, 3});

        HttpResponse<byte[]> res = get("/blocks?cids=" + smallCid + "," + absent + "," + cid);

        assertEquals(200, res.statusCode());
        assertEquals("application/vnd.statesync.blocks", header(res, "content-type"));
        java.nio.ByteBuffer body = java.nio.ByteBuffer.wrap(res.body());
        assertEquals(small.length, body.getInt());
        byte[] first = new byte[small.length];
        body.get(first);
        assertArrayEquals(small, first);
        assertEquals(-1, body.getInt(), "a block the store lacks is framed as 0xFFFFFFFF");
        assertEquals(BLOB_SIZE, body.getInt());
        byte[] third = new byte[BLOB_SIZE];
        body.get(third);
        assertArrayEquals(data, third);
        assertEquals(0, body.remaining());
    }

    @Test
    void aBadBlocksRequestIsRefusedWithTheReason() throws Exception {
        HttpResponse<byte[]> none = get("/blocks");
        assertEquals(400, none.statusCode());
        assertTrue(new String(none.body()).startsWith("400 missing cids"), new String(none.body()));

        HttpResponse<byte[]> malformed = get("/blocks?cids=" + cid + ",notacid");
        assertEquals(400, malformed.statusCode());
        assertTrue(new String(malformed.body()).startsWith("400 malformed CID"), new String(malformed.body()));

        String many = String.join(",", java.util.Collections.nCopies(65, "bafkqaaa"));
        HttpResponse<byte[]> tooMany = get("/blocks?cids=" + many);
        assertEquals(400, tooMany.statusCode());
        assertTrue(new String(tooMany.body()).startsWith("400 65 CIDs asked, at most 64"), new String(tooMany.body()));
        // The server goes on serving.
        assertEquals(200, get("/ipfs/" + cid).statusCode());
    }

    @Test
    void headAnnouncesTheBlobWithoutSendingIt() throws Exception {
        HttpResponse<byte[]> res = http.send(
                HttpRequest.newBuilder(server.uri().resolve("/ipfs/" + cid)).HEAD().build(), BodyHandlers.ofByteArray());

        assertEquals(200, res.statusCode());
        assertEquals(0, res.body().length);
        assertEquals(String.valueOf(BLOB_SIZE), header(res, "content-length"));
        assertEquals("\"" + cid + "\"", header(res, "etag"));
        assertEquals("application/vnd.ipld.raw", header(res, "content-type"));
    }

    @Test
    void formatRawIsAcceptedAndOtherFormatsAreRefused() throws Exception {
        HttpResponse<byte[]> raw = get("/ipfs/" + cid + "?format=raw");
        assertEquals(200, raw.statusCode());
        assertArrayEquals(data, raw.body());

        HttpResponse<byte[]> car = get("/ipfs/" + cid + "?format=car");
        assertEquals(400, car.statusCode());
        assertEquals("400 unsupported format 'car': only format=raw is served\n", new String(car.body(), UTF_8));
    }

    @Test
    void acceptHeaderDoesNotChangeTheAnswer() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid, "Accept", "application/vnd.ipld.car");
        assertEquals(200, res.statusCode());
        assertArrayEquals(data, res.body());
    }

    @Test
    void emptyBlobIsServed() throws Exception {
        Cid empty = store.put(Codec.RAW, new byte[0]);
        HttpResponse<byte[]> res = get("/ipfs/" + empty);
        assertEquals(200, res.statusCode());
        assertEquals(0, res.body().length);
        assertEquals("0", header(res, "content-length"));
    }

    // ---- ranges ----

    @Test
    void closedRangeGivesThatSlice() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid, "Range", "bytes=10-99");

        assertEquals(206, res.statusCode());
        assertArrayEquals(Arrays.copyOfRange(data, 10, 100), res.body());
        assertEquals("bytes 10-99/" + BLOB_SIZE, header(res, "content-range"));
        assertEquals("90", header(res, "content-length"));
        assertEquals("\"" + cid + "\"", header(res, "etag"));
    }

    @Test
    void openEndedRangeRunsToTheEnd() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid, "Range", "bytes=" + (BLOB_SIZE - 100) + "-");

        assertEquals(206, res.statusCode());
        assertArrayEquals(Arrays.copyOfRange(data, BLOB_SIZE - 100, BLOB_SIZE), res.body());
        assertEquals("bytes " + (BLOB_SIZE - 100) + "-" + (BLOB_SIZE - 1) + "/" + BLOB_SIZE, header(res, "content-range"));
    }

    @Test
    void suffixRangeGivesTheLastBytes() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid, "Range", "bytes=-500");

        assertEquals(206, res.statusCode());
        assertArrayEquals(Arrays.copyOfRange(data, BLOB_SIZE - 500, BLOB_SIZE), res.body());
        assertEquals("bytes " + (BLOB_SIZE - 500) + "-" + (BLOB_SIZE - 1) + "/" + BLOB_SIZE, header(res, "content-range"));
    }

    @Test
    void rangeEndBeyondTheBlobIsClamped() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid, "Range", "bytes=100-99999999");

        assertEquals(206, res.statusCode());
        assertArrayEquals(Arrays.copyOfRange(data, 100, BLOB_SIZE), res.body());
        assertEquals("bytes 100-" + (BLOB_SIZE - 1) + "/" + BLOB_SIZE, header(res, "content-range"));
    }

    @Test
    void ifRangeWithAnotherValidatorServesTheWholeBlob() throws Exception {
        HttpResponse<byte[]> same = get("/ipfs/" + cid, "Range", "bytes=0-9", "If-Range", "\"" + cid + "\"");
        assertEquals(206, same.statusCode());

        HttpResponse<byte[]> other = get("/ipfs/" + cid, "Range", "bytes=0-9", "If-Range", "\"something-else\"");
        assertEquals(200, other.statusCode());
        assertArrayEquals(data, other.body());
    }

    @Test
    void largeResponseToASlowReaderIsNotCutByTheHeaderTimeout() throws Exception {
        byte[] big = new byte[16 << 20];
        new Random(7).nextBytes(big);
        Cid bigCid = store.put(Codec.RAW, big);
        try (FileShareServer strict = startServer(ServerConfig.loopback().withHeaderTimeout(Duration.ofMillis(200)));
             Socket s = new Socket()) {
            s.setReceiveBufferSize(16 * 1024);
            s.connect(new InetSocketAddress("127.0.0.1", strict.port()));
            s.setSoTimeout(READ_TIMEOUT_MILLIS);
            s.getOutputStream().write(request("GET /ipfs/" + bigCid));
            InputStream in = s.getInputStream();
            RawResponse head = RawResponse.readHead(in);
            assertEquals(200, head.status());
            byte[] body = new byte[big.length];
            readFully(in, body, 0, 1 << 20);
            // The client stalls for three header timeouts while the server still has megabytes
            // to send: the connection must survive, because it is busy answering, not idle. (A
            // sleep by nature: the stall itself, measured in time, is what is tested.)
            Thread.sleep(600);
            readFully(in, body, 1 << 20, big.length - (1 << 20));
            assertArrayEquals(big, body);
        }
    }

    // ---- conditional requests ----

    @Test
    void ifNoneMatchWithTheEtagGives304() throws Exception {
        HttpResponse<byte[]> res = get("/ipfs/" + cid, "If-None-Match", "\"" + cid + "\"");
        assertEquals(304, res.statusCode());
        assertEquals(0, res.body().length);
        assertEquals("\"" + cid + "\"", header(res, "etag"));

        assertEquals(304, get("/ipfs/" + cid, "If-None-Match", "\"x\", W/\"" + cid + "\"").statusCode());
        assertEquals(304, get("/ipfs/" + cid, "If-None-Match", "*").statusCode());
        assertEquals(200, get("/ipfs/" + cid, "If-None-Match", "\"other\"").statusCode());
    }

    // ---- errors ----

    @Test
    void unknownCidGets404() throws Exception {
        Cid absent = Cid.compute(Codec.RAW, "not in the store".getBytes(UTF_8));
        HttpResponse<byte[]> res = get("/ipfs/" + absent);
        assertEquals(404, res.statusCode());
        assertEquals("404 blob not found: " + absent + "\n", new String(res.body(), UTF_8));
        assertEquals("no-store", header(res, "cache-control"));
    }

    @Test
    void otherPathsGet404AndNothingIsListed() throws Exception {
        for (String path : new String[] {"/", "/index.html", "/tmp/", "/store/ipfs/" + cid, "/ipfs/" + cid + "/x",
                                         "/health/", "/IPFS/" + cid}) {
            HttpResponse<byte[]> res = get(path);
            assertEquals(404, res.statusCode(), path);
            assertFalse(new String(res.body(), UTF_8).contains(cid.toString()), path);
        }
        assertEquals(400, get("/ipfs/").statusCode());
        assertEquals(400, get("/ipfs").statusCode());
    }

    @Test
    void healthAnswers503WithTheHostsReasonWhileItIsUnhealthy() throws Exception {
        URI health = server.uri().resolve("/health");
        java.util.concurrent.atomic.AtomicReference<String> problem = new java.util.concurrent.atomic.AtomicReference<>();
        server.healthCheck(problem::get);
        HttpResponse<byte[]> ok = http.send(HttpRequest.newBuilder(health).build(), BodyHandlers.ofByteArray());
        assertEquals(200, ok.statusCode());
        assertEquals("ok\n", new String(ok.body(), UTF_8));

        problem.set("thread t0 stalled: consensus is CLOSED for 31 s");
        HttpResponse<byte[]> sick = http.send(HttpRequest.newBuilder(health).build(), BodyHandlers.ofByteArray());
        assertEquals(503, sick.statusCode());
        assertEquals("503 unhealthy: thread t0 stalled: consensus is CLOSED for 31 s\n", new String(sick.body(), UTF_8));
        assertEquals("no-store", header(sick, "cache-control"));

        // A check that throws is a sick host too, and the server goes on answering
        server.healthCheck(() -> {
            throw new IllegalStateException("boom");
        });
        HttpResponse<byte[]> broken = http.send(HttpRequest.newBuilder(health).build(), BodyHandlers.ofByteArray());
        assertEquals(503, broken.statusCode());
        assertTrue(new String(broken.body(), UTF_8).contains("health check failed"));
        assertEquals(200, http.send(HttpRequest.newBuilder(server.uri().resolve("/ipfs/" + cid)).build(),
                BodyHandlers.ofByteArray()).statusCode());
    }

    @Test
    void otherMethodsGet405WithAllow() throws Exception {
        URI uri = server.uri().resolve("/ipfs/" + cid);
        for (String method : new String[] {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
            HttpResponse<byte[]> res = http.send(
                    HttpRequest.newBuilder(uri).method(method, BodyPublishers.ofString("x")).build(),
                    BodyHandlers.ofByteArray());
            assertEquals(405, res.statusCode(), method);
            assertEquals("GET, HEAD", header(res, "allow"), method);
            assertEquals("405 method " + method + " not allowed: use GET or HEAD\n", new String(res.body(), UTF_8));
        }
        assertEquals(405, http.send(HttpRequest.newBuilder(server.uri().resolve("/health"))
                .POST(BodyPublishers.noBody()).build(), BodyHandlers.ofByteArray()).statusCode());
        assertTrue(store.has(cid), "DELETE must not have touched the store");
    }

    // ---- connections ----

    @Test
    void keepAliveServesSeveralRequestsOnOneConnectionAndPipelinesInOrder() throws Exception {
        try (Socket s = connect(server)) {
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write(request("GET /ipfs/" + cid, "Range: bytes=0-9"));
            RawResponse first = RawResponse.read(in, false);
            assertEquals(206, first.status());
            assertArrayEquals(Arrays.copyOf(data, 10), first.body());

            // Two requests in one write: answered one after the other, in order.
            ByteArrayOutputStream pipelined = new ByteArrayOutputStream();
            pipelined.write(request("GET /ipfs/" + cid));
            pipelined.write(request("HEAD /ipfs/" + cid));
            pipelined.write(request("GET /health"));
            out.write(pipelined.toByteArray());
            RawResponse a = RawResponse.read(in, false);
            RawResponse b = RawResponse.read(in, true);
            RawResponse c = RawResponse.read(in, false);
            assertArrayEquals(data, a.body());
            assertEquals(200, b.status());
            assertEquals(0, b.body().length);
            assertEquals("ok\n", new String(c.body(), UTF_8));
        }
    }

    @Test
    void smallRequestBodyIsDrainedAndTheConnectionKept() throws Exception {
        try (Socket s = connect(server)) {
            s.getOutputStream().write(("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /ipfs/" + cid + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(US_ASCII));
            InputStream in = s.getInputStream();
            assertEquals(200, RawResponse.read(in, false).status());
            RawResponse blob = RawResponse.read(in, false);
            assertEquals(200, blob.status());
            assertArrayEquals(data, blob.body());
        }
    }

    @Test
    void largeRequestBodyIsNotDrainedButAnsweredAndClosed() throws Exception {
        RawResponse res = exchange(server,
                ("PUT /ipfs/" + cid + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\npartial").getBytes(US_ASCII));
        assertEquals(405, res.status());
        assertEquals("close", res.headers().get("connection"));
        assertTrue(res.closed());
    }

    @Test
    void http10IsClosedAfterTheResponseUnlessItAsksForKeepAlive() throws Exception {
        RawResponse res = exchange(server, "GET /health HTTP/1.0\r\n\r\n".getBytes(US_ASCII));
        assertEquals(200, res.status());
        assertTrue(res.closed());

        try (Socket s = connect(server)) {
            byte[] keep = "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".getBytes(US_ASCII);
            s.getOutputStream().write(keep);
            RawResponse first = RawResponse.read(s.getInputStream(), false);
            assertEquals("keep-alive", first.headers().get("connection"));
            s.getOutputStream().write(keep);
            assertEquals(200, RawResponse.read(s.getInputStream(), false).status());
        }
    }

    @Test
    void idleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        try (FileShareServer strict = startServer(ServerConfig.loopback().withIdleTimeout(Duration.ofMillis(300)));
             Socket s = connect(strict)) {
            assertEquals(-1, s.getInputStream().read());
            assertTrue(scrape(strict).contains("statesync_share_timeouts_total{kind=\"idle\"} 1.0"));
        }
    }

    @Test
    @SuppressWarnings("try") // first is closed early on purpose, to free a slot
    void connectionsBeyondTheLimitGet503AndServiceResumesWhenOneCloses() throws Exception {
        try (FileShareServer small = startServer(ServerConfig.loopback().withMaxConnections(2));
             Socket first = connect(small);
             Socket second = connect(small)) {
            for (Socket s : new Socket[] {first, second}) {
                s.getOutputStream().write(request("GET /health"));
                assertEquals(200, RawResponse.read(s.getInputStream(), false).status());
            }
            assertEquals(2, small.connections());

            try (Socket third = connect(small)) {
                RawResponse refused = RawResponse.read(third.getInputStream(), false);
                assertEquals(503, refused.status());
                assertEquals("close", refused.headers().get("connection"));
                assertEquals(-1, third.getInputStream().read());
            }

            first.close();
            Await.until("a slot is freed", Duration.ofSeconds(5), () -> small.connections() < 2);
            HttpResponse<byte[]> res = http.send(HttpRequest.newBuilder(small.uri().resolve("/ipfs/" + cid)).build(),
                    BodyHandlers.ofByteArray());
            assertEquals(200, res.statusCode());
            assertArrayEquals(data, res.body());
            assertTrue(scrape(small).contains("statesync_share_connections_refused_total{limit=\"total\"} 1.0"));
        }
    }

    // ---- metrics, health, lifecycle ----

    @Test
    void metricsAreRenderedInPrometheusTextFormat() throws Exception {
        get("/ipfs/" + cid);
        get("/ipfs/bafk!!!");
        HttpResponse<byte[]> res = get("/metrics");

        assertEquals(200, res.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", header(res, "content-type"));
        String text = new String(res.body(), UTF_8);
        assertTrue(text.contains("statesync_share_requests_total{status=\"200\"} 1.0"), text);
        assertTrue(text.contains("statesync_share_requests_total{status=\"400\"} 1.0"), text);
        assertTrue(text.contains("statesync_share_served_bytes_total " + (double) BLOB_SIZE), text);
        assertTrue(text.contains("statesync_share_connections_active{port=\"" + server.port() + "\"} 1.0"), text);
        assertTrue(text.contains("statesync_share_request_duration_seconds_count"), text);
    }

    @Test
    void twoServersOnOneRegistryEachReportTheirConnections() throws Exception {
        try (FileShareServer second = FileShareServer.start(ServerConfig.loopback().withMaxBytesPerSecond(5 << 20),
                store, registry)) {
            String text = new String(get("/metrics").body(), UTF_8);
            assertTrue(text.contains("statesync_share_connections_active{port=\"" + second.port() + "\"} 0.0"), text);
            // Each server's egress cap, for a dashboard to draw beside what it sends; 0 is no cap.
            assertTrue(text.contains("statesync_share_rate_limit_bytes_per_second{port=\"" + second.port() + "\"} "
                    + (double) (5 << 20)), text);
            assertTrue(text.contains("statesync_share_rate_limit_bytes_per_second{port=\"" + server.port() + "\"} 0.0"),
                    text);
            assertTrue(text.contains("statesync_share_connections_active{port=\"" + server.port() + "\"} 1.0"), text);
        }
        String after = new String(get("/metrics").body(), UTF_8);
        assertTrue(after.contains("statesync_share_connections_active{port=\"" + server.port() + "\"}"), after);
    }

    @Test
    void theEgressCapHoldsOverAllConnectionsTogether() throws Exception {
        byte[] big = new byte[1024 * 1024];
        new Random(7).nextBytes(big);
        Cid bigCid = store.put(Codec.RAW, big);
        long cap = 1024 * 1024;
        try (FileShareServer capped = FileShareServer.start(ServerConfig.loopback().withMaxBytesPerSecond(cap), store, registry)) {
            HttpRequest req = HttpRequest.newBuilder(URI.create(capped.uri() + "/ipfs/" + bigCid)).build();

            long t0 = System.nanoTime();
            var a = http.sendAsync(req, BodyHandlers.ofByteArray());
            var b = http.sendAsync(req, BodyHandlers.ofByteArray());
            assertArrayEquals(big, a.get().body());
            assertArrayEquals(big, b.get().body());
            double seconds = (System.nanoTime() - t0) / 1e9;

            // 2 MiB through a 1 MiB/s cap: well over a second, whatever else the machine does.
            assertTrue(seconds >= 1.2, "2 MiB at 1 MiB/s took only " + seconds + " s");
        }
    }

    @Test
    void aNegativeEgressCapIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.loopback().withMaxBytesPerSecond(-1));
        assertTrue(e.getMessage().contains("maxBytesPerSecond"), e.getMessage());
    }

    @Test
    void healthSaysOk() throws Exception {
        HttpResponse<byte[]> res = get("/health");
        assertEquals(200, res.statusCode());
        assertEquals("ok\n", new String(res.body(), UTF_8));
    }

    @Test
    void closeStopsListeningAndEndsEveryThread() throws Exception {
        FileShareServer other = startServer(ServerConfig.loopback());
        int port = other.port();
        assertEquals(200, exchange(other, request("GET /health")).status());
        other.close();
        other.close();

        assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());
        server.close();
        Await.until("share threads ended", Duration.ofSeconds(5), () -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("statesync-share")));
    }

    @Test
    void bindingAPortInUseFailsWithTheAddress() throws Exception {
        IOException e = assertThrows(IOException.class,
                () -> startServer(ServerConfig.loopback().withPort(server.port())));
        assertTrue(e.getMessage().contains("127.0.0.1:" + server.port()), e.getMessage());
    }

    @Test
    void uriIsTheBaseUrl() {
        assertEquals(URI.create("http://127.0.0.1:" + server.port()), server.uri());
    }

    // ---- helpers ----

    private FileShareServer startServer(ServerConfig config) throws IOException, InterruptedException {
        return FileShareServer.start(config, store, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(10));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return http.send(b.build(), BodyHandlers.ofByteArray());
    }

    private static String header(HttpResponse<?> res, String name) {
        return res.headers().firstValue(name).orElse(null);
    }

    private static String scrape(FileShareServer s) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(s.uri().resolve("/metrics")).build(), BodyHandlers.ofString()).body();
    }

}
