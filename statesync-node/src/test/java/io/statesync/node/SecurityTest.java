package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.testing.Await;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import io.statesync.transfer.server.Route;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attack suite of the node (issue 14), on one running node. The closed control plane: the
 * admin API answers on its own listener only, and there only with the bearer token from the
 * node's token file; here the listener is opened to every interface (as an operator who manages
 * nodes from elsewhere would), so the token is what guards it. And the open HTTP port: hostile
 * transactions and lease requests from strangers. Every case checks the status and reason, and
 * after each one the admin API still answers its token holder and the node port still serves.
 *
 * <p>Also defended, and tested where a cluster is running anyway: every malformed or refused
 * request of the node API, each a 4xx with its reason
 * ({@code NodeClusterTest#badInputGetsA4xxWithItsReasonAndTheNodeKeepsServing}) and of the admin
 * sync controls ({@code SyncControlsTest}); a stranger's lease on a saved state
 * ({@code SavedStatesTest}); a forged block or saved state not on the committed chain
 * ({@code ImportDecisionTest}, {@code chain.LedgerMachineTest}); malformed dumps and overlays
 * ({@code ledger.CaptureRestoreTest}, {@code ledger.LayeredDumpTest}); the CLI sending the token
 * ({@code SyncCommandTest} in the CLI module).
 */
class SecurityTest {
    private static final String TOKEN = "c0ffee".repeat(8);
    /** The node port's cap per client address here ({@code http.maxConnectionsPerAddress}), not the default. */
    private static final int PER_ADDRESS = 16;
    /** Another loopback address, so the attacker's connections count apart from the test's own. */
    private static final String ATTACKER = "127.0.0.7";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path dir;
    private static Node node;
    private static URI admin;

    @BeforeAll
    static void start() throws Exception {
        Path token = dir.resolve("admin.token");
        Files.writeString(token, TOKEN + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        NodeConfig c = TestNodes.configure(dir, 1, List.of(new ThreadId("t0")), 100_000, false).get(0)
                .withAdmin(new NodeConfig.Admin("0.0.0.0", 0, token))
                .withHttpLimits(new NodeConfig.HttpLimits(512, PER_ADDRESS));
        node = Node.start(c);
        admin = URI.create("http://127.0.0.1:" + node.adminUri().getPort());
        assertTrue(node.adminUri().getPort() != node.uri().getPort());
    }

    @AfterEach
    void theTokenHolderAndTheNodePortAreStillServed() throws Exception {
        HttpResponse<String> members = send(admin, "GET", "/admin/members", "Bearer " + TOKEN);
        assertEquals(200, members.statusCode(), members.body());
        assertEquals(200, send(node.uri(), "GET", "/node/status", null).statusCode());
        assertFalse(node.thread("t0").orElseThrow().producer().paused(), "no attack left the producer paused");
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
        HTTP.close();
    }

    @Test
    @DisplayName("the node port answers no control at all, not even with the token: 404")
    void theNodePortAnswersNoControlAtAll() throws Exception {
        HttpResponse<String> members = send(node.uri(), "GET", "/admin/members", null);
        assertEquals(404, members.statusCode());
        assertTrue(members.body().contains("the admin API listens on its own address"), members.body());

        HttpResponse<String> withToken = send(node.uri(), "POST", "/admin/producer/t0/pause", "Bearer " + TOKEN);
        assertEquals(404, withToken.statusCode(), "not even with the token: " + withToken.body());

        HttpResponse<String> pause = send(node.uri(), "POST", "/node/producer/t0/pause", null);
        assertEquals(404, pause.statusCode());
        assertTrue(pause.body().contains("the producer controls are on the admin API"), pause.body());
        assertFalse(node.thread("t0").orElseThrow().producer().paused());
    }

    @Test
    @DisplayName("unauthenticated producer pause: 401 for no token or a wrong one, each refusal counted; two Authorization headers: 400")
    void theAdminListenerAsksForTheTokenAndCountsEveryRefusal() throws Exception {
        double missing = refusals("missing");
        double wrong = refusals("wrong");

        HttpResponse<String> none = send(admin, "POST", "/admin/producer/t0/pause", null);
        assertEquals(401, none.statusCode());
        assertTrue(none.body().contains("the admin API needs its token"), none.body());
        assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), none.headers().toString());
        for (String bad : List.of("Bearer " + TOKEN.substring(1), "Bearer " + TOKEN + "0", "Basic " + TOKEN, TOKEN,
                "Bearer", "Bearer " + TOKEN.toUpperCase())) {
            HttpResponse<String> res = send(admin, "POST", "/admin/producer/t0/pause", bad);
            assertEquals(401, res.statusCode(), bad);
            assertEquals("wrong admin token", res.body().strip().replaceFirst("^401 ", ""), bad);
        }
        assertFalse(node.thread("t0").orElseThrow().producer().paused(), "no refused request paused anything");
        assertEquals(missing + 1, refusals("missing"));
        assertEquals(wrong + 6, refusals("wrong"));

        HttpResponse<String> twice = HTTP.send(HttpRequest.newBuilder(admin.resolve("/admin/members"))
                .header("Authorization", "Bearer " + TOKEN).header("Authorization", "Bearer " + TOKEN).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(400, twice.statusCode(), twice.body());
        assertTrue(twice.body().contains("given more than once"), twice.body());
    }

    @Test
    @DisplayName("with the token the controls work (pause, resume); the listener serves no blobs")
    void withTheTokenTheControlsWork() throws Exception {
        HttpResponse<String> members = send(admin, "GET", "/admin/members", "bearer " + TOKEN);
        assertEquals(200, members.statusCode(), members.body());
        assertTrue(members.body().contains("\"t0\":[{\"id\":\"n1\""), members.body());

        var producer = node.thread("t0").orElseThrow().producer();
        HttpResponse<String> pause = send(admin, "POST", "/admin/producer/t0/pause", "Bearer " + TOKEN);
        assertEquals(200, pause.statusCode(), pause.body());
        // The producer takes the command on its own thread, a moment later.
        Await.until("the producer paused", Duration.ofSeconds(10), producer::paused);
        HttpResponse<String> resume = send(admin, "POST", "/admin/producer/t0/resume", "Bearer " + TOKEN);
        assertEquals(200, resume.statusCode(), resume.body());
        Await.until("the producer resumed", Duration.ofSeconds(10), () -> !producer.paused());

        // The listener serves no blobs; its health is the node's.
        assertEquals(404, send(admin, "GET", "/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", null)
                .statusCode());
        assertEquals(200, send(admin, "GET", "/health", null).statusCode());
    }

    @Test
    @DisplayName("a token file others can read, a short or odd token, a symlink: the node stops before it opens a port")
    void aTokenFileOthersCanReadOrABadTokenStopsTheNodeBeforeItOpensAPort() throws Exception {
        NodeConfig c = TestNodes.configure(dir.resolve("bad"), 1, List.of(new ThreadId("t0")), 100_000, false).get(0);
        Path readable = dir.resolve("readable.token");
        Files.writeString(readable, TOKEN);
        Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rw-r--r--"));
        Path shortToken = dir.resolve("short.token");
        Files.writeString(shortToken, "abc123");
        Files.setPosixFilePermissions(shortToken, PosixFilePermissions.fromString("rw-------"));
        Path oddToken = dir.resolve("odd.token");
        Files.writeString(oddToken, TOKEN + " and more words");
        Files.setPosixFilePermissions(oddToken, PosixFilePermissions.fromString("r--------"));
        Path link = dir.resolve("link.token");
        Files.createSymbolicLink(link, dir.resolve("admin.token"));

        for (var bad : List.of(
                new Object[] {readable, "others may read or change it (rw-r--r--); chmod 600 it"},
                new Object[] {shortToken, "the token must be 32 to 1024 characters, not 6 (openssl rand -hex 32 makes one)"},
                new Object[] {oddToken, "the token may hold only letters, digits and . _ ~ + / = -"},
                new Object[] {link, "not a regular file"},
                new Object[] {dir.resolve("none.token"), "no such file"})) {
            Path file = (Path) bad[0];
            IOException e = assertThrows(IOException.class,
                    () -> Node.start(c.withAdmin(new NodeConfig.Admin("127.0.0.1", 0, file))).close());
            assertEquals("admin.tokenFile " + file + ": " + bad[1], e.getMessage());
            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", c.httpPort()).close(),
                    "nothing listens on the node's port");
        }
    }

    private static double refusals(String reason) throws Exception {
        String metrics = send(node.uri(), "GET", "/metrics", null).body();
        return metrics.lines().filter(l -> l.startsWith("statesync_admin_unauthorized_total{reason=\"" + reason + "\"}"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst().orElse(0);
    }

    private static HttpResponse<String> send(URI base, String method, String path, String authorization)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(30))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    @DisplayName("a browser (Origin header) is refused with 403 even with the token; host names that are not addresses are told apart")
    void browsersAndRenamedHostsAreRefusedBeforeTheToken() throws Exception {
        HttpResponse<String> fromAPage = HTTP.send(HttpRequest.newBuilder(admin.resolve("/admin/producer/t0/pause"))
                .header("Origin", "http://evil.example").header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, fromAPage.statusCode(), fromAPage.body());
        assertTrue(fromAPage.body().contains("does not answer browsers"), fromAPage.body());
        assertFalse(node.thread("t0").orElseThrow().producer().paused());

        assertTrue(AdminGate.hostIsAnAddress("127.0.0.1:7139"));
        assertTrue(AdminGate.hostIsAnAddress("localhost"));
        assertTrue(AdminGate.hostIsAnAddress("[::1]:7139"));
        assertFalse(AdminGate.hostIsAnAddress("rebound.evil.example:7139"));
        assertFalse(AdminGate.hostIsAnAddress("127.0.0.1.evil.example"));
        assertFalse(AdminGate.hostIsAnAddress(""));
    }

    @Test
    @DisplayName("hostile transactions on the node port: garbage 400, a forged signature 422, nothing enters the pool")
    void hostileTransactionsAreRefusedWithTheReason() throws Exception {
        HttpResponse<String> garbage = HTTP.send(HttpRequest.newBuilder(node.uri().resolve("/node/tx"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[] {0x11, 1, 2, 3})).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(400, garbage.statusCode(), garbage.body());
        assertTrue(garbage.body().contains("transaction:"), garbage.body());

        // A signature is judged where the thread's leader is: this node, once it leads.
        var group = node.thread("t0").orElseThrow().group();
        Await.until("the node leads t0", Duration.ofSeconds(30), () -> group.status().role().equals("LEADER"));
        byte[] forged = Transaction.transfer(TestNodes.FAUCET, new ThreadId("t0"), 99,
                Signer.fromPhrase("mallory").account(), 1).encode();
        forged[forged.length - 1] ^= 1;
        HttpResponse<String> badSignature = HTTP.send(HttpRequest.newBuilder(node.uri().resolve("/node/tx"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(forged)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(422, badSignature.statusCode(), badSignature.body());
        assertTrue(badSignature.body().contains("bad signature"), badSignature.body());
    }

    @Test
    @DisplayName("one address holding the configured cap of slow connections on the node port: 503 with the limit; others served")
    void oneAddressGetsOnlyTheConfiguredShareOfTheNodePort() throws Exception {
        List<Socket> held = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < PER_ADDRESS; i++) {
                Socket s = attackerSocket();
                held.add(s);
                // A head that never ends: the connection stays open until the header timeout.
                s.getOutputStream().write("GET /node/status HTTP/1.1\r\nHost: x\r\nX-Slow: "
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
            try (Socket refused = attackerSocket()) {
                String answer = new String(refused.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
                assertTrue(answer.contains("too many connections from your address (limit " + PER_ADDRESS + ")"), answer);
            }
            // Meanwhile another address is served.
            assertEquals(200, send(node.uri(), "GET", "/node/status", null).statusCode());
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    private static Socket attackerSocket() throws IOException {
        Socket s = new Socket();
        s.bind(new java.net.InetSocketAddress(ATTACKER, 0));
        s.connect(new java.net.InetSocketAddress("127.0.0.1", node.uri().getPort()), 5000);
        s.setSoTimeout(10_000);
        return s;
    }

    @Test
    @DisplayName("a stranger's lease request on the node port: 401, and it holds nothing")
    void aStrangersLeaseRequestIsRefused() throws Exception {
        var group = node.thread("t0").orElseThrow().group();
        int before = group.leases();
        HttpResponse<String> res = send(node.uri(), "POST", "/groups/" + group.id()
                + "/leases?session=peer-1&from=1&ttlMs=60000", null);
        assertEquals(401, res.statusCode(), res.body());
        assertTrue(res.body().contains("only a member of the group may ask this"), res.body());
        assertEquals(before, group.leases());
    }

    @Test
    @DisplayName("without a token (a loopback listener): a request to a host name (DNS rebinding) or from a browser is 403")
    void withoutATokenOnlyRequestsToAnAddressAreAnswered() throws Exception {
        Route inner = request -> RouteResponse.json("{}");
        AdminGate gate = new AdminGate(inner, null, new SimpleMeterRegistry());
        for (String host : List.of("rebound.evil.example:7139", "127.0.0.1.evil.example", "", "x".repeat(300))) {
            RouteException e = assertThrows(RouteException.class,
                    () -> gate.handle(adminRequest(Map.of("Host", List.of(host)))), host);
            assertEquals(403, e.status(), host);
            assertTrue(e.getMessage().startsWith("the admin API answers requests to an IP address or localhost, not to '"),
                    e.getMessage());
            assertTrue(e.getMessage().length() < 200, "the name is cut short: " + e.getMessage());
        }
        RouteException browser = assertThrows(RouteException.class,
                () -> gate.handle(adminRequest(Map.of("Host", List.of("127.0.0.1:7139"),
                        "Origin", List.of("http://evil.example")))));
        assertEquals(403, browser.status());
        assertTrue(browser.getMessage().contains("does not answer browsers"), browser.getMessage());
        for (String host : List.of("127.0.0.1:7139", "localhost", "[::1]:7139")) {
            assertEquals(200, gate.handle(adminRequest(Map.of("Host", List.of(host)))).status(), host);
        }
    }

    private static RouteRequest adminRequest(Map<String, List<String>> headers) {
        return new RouteRequest("POST", List.of("producer", "t0", "pause"), Map.of(),
                new byte[0], headers);
    }
}
