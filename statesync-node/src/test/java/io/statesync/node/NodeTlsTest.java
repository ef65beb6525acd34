package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.TestCerts;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import io.statesync.transfer.tls.ClientAuth;
import io.statesync.transfer.tls.Tls;
import io.statesync.transfer.tls.TlsFiles;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's {@code tls:} section: how it is read, and a node whose port speaks only mTLS. */
class NodeTlsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private TestCerts ca;
    private TestCerts.Issued node;

    @BeforeEach
    void certs() throws Exception {
        ca = TestCerts.authority(dir.resolve("certs"), "cluster");
        node = ca.issue("n1", "localhost", "127.0.0.1");
    }

    private String yaml(int http, int raft, String tls) {
        return """
                node:
                  id: n1
                  dataDir: data/n1
                http:
                  port: %d
                threads: [t0]
                members:
                  - id: n1
                    http: https://127.0.0.1:%d
                    raft: 127.0.0.1:%d
                producer:
                  productionTimeout: 50ms
                %s
                """.formatted(http, http, raft, tls);
    }

    private String tlsSection(String clientAuth) {
        return """
                tls:
                  cert: certs/n1.pem
                  key: certs/n1-key.pem
                  ca: certs/cluster-ca.pem
                  clientAuth: %s
                """.formatted(clientAuth);
    }

    private NodeConfig load(String yaml, Map<String, String> env) throws Exception {
        Path f = dir.resolve("node.yaml");
        Files.writeString(f, yaml);
        return NodeConfig.load(f, env);
    }

    private String refused(String yaml, Map<String, String> env) {
        NodeConfig.ConfigException e = assertThrows(NodeConfig.ConfigException.class, () -> load(yaml, env));
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void theTlsSectionIsReadCheckedAndOverriddenByTheEnvironment() throws Exception {
        NodeConfig c = load(yaml(8101, 9101, tlsSection("require")), Map.of());
        assertNotNull(c.tls());
        assertEquals(ClientAuth.REQUIRE, c.tls().clientAuth());
        assertEquals(node.chain(), c.tls().files().certChain(), "relative to the file");
        assertEquals(URI.create("https://127.0.0.1:8101"), c.network().httpAdvertise(), "https by default");
        assertEquals(ClientAuth.WANT,
                load(yaml(8101, 9101, tlsSection("require")), Map.of("STATESYNC_TLS_CLIENT_AUTH", "want"))
                        .tls().clientAuth());
        assertNull(load(yaml(8101, 9101, ""), Map.of()).tls(), "no section: plain HTTP");

        Path junk = Files.writeString(dir.resolve("certs/junk.pem"), "junk\n");
        assertEquals("tls: cannot read TLS key " + junk + ": not a PEM file (no -----BEGIN ...----- block)",
                refused(yaml(8101, 9101, tlsSection("none")), Map.of("STATESYNC_TLS_KEY", "certs/junk.pem")));
        assertTrue(refused(yaml(8101, 9101, tlsSection("none")), Map.of("STATESYNC_TLS_CERT", "certs/none.pem"))
                .startsWith("tls: cannot read TLS certificate " + dir.resolve("certs/none.pem") + ": no such file"));
        assertTrue(refused(yaml(8101, 9101, tlsSection("sometimes")), Map.of()).startsWith("tls.clientAuth: "));
        assertTrue(refused(yaml(8101, 9101, "tls: {cert: certs/n1.pem, key: certs/n1-key.pem, clientAuth: require}"),
                Map.of()).startsWith("tls.ca: missing"));
        assertTrue(refused(yaml(8101, 9101, tlsSection("none") + "  bogus: 1\n"), Map.of()).contains("bogus"));
        assertTrue(refused(yaml(8101, 9101, tlsSection("none")), Map.of("STATESYNC_HTTP_ADVERTISE",
                "http://127.0.0.1:8101")).startsWith("http.advertise: http://127.0.0.1:8101 must be an https:// URL"));
    }

    private static HttpResponse<String> get(HttpClient client, URI uri) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void membersUnderMutualTlsServeOnlyCertifiedClientsAndForwardToTheLeader() throws Exception {
        ThreadId t0 = new ThreadId("t0");
        List<NodeConfig> plain = TestNodes.configure(dir.resolve("cluster"), 2, List.of(t0), 100_000, false);
        List<Node> nodes = new ArrayList<>();
        Tls client = TlsFiles.trusting(ca.caFile()).withIdentity(node.chain(), node.key()).load();
        try (HttpClient http = Tls.httpClient(client).connectTimeout(Duration.ofSeconds(2)).build()) {
            for (NodeConfig c : plain) {
                // Each member its own certificate, for the address its https URL names.
                TestCerts.Issued own = ca.issue(c.id(), "127.0.0.1");
                nodes.add(Node.start(withTls(c, new TlsFiles(own.chain(), own.key(), ca.caFile(), ClientAuth.REQUIRE)
                        .load())));
            }
            Await.until("both nodes know the leader of t0", Duration.ofSeconds(60), () -> nodes.stream()
                    .allMatch(n -> n.thread(t0.name()).orElseThrow().groupStatus().leader() != null));
            Node follower = nodes.stream()
                    .filter(n -> !"LEADER".equals(n.thread(t0.name()).orElseThrow().groupStatus().role()))
                    .findFirst().orElseThrow();
            Signer alice = Signer.fromPhrase("alice");
            byte[] tx = Transaction.transfer(TestNodes.FAUCET, t0, 0, alice.account(), 77).encode();

            // The follower forwards it to the leader, over mTLS with its own certificate.
            HttpResponse<String> res = http.send(HttpRequest.newBuilder(follower.uri().resolve("/node/tx"))
                    .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofByteArray(tx)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(202, res.statusCode(), res.body());
            Await.until("alice holds 77 on both nodes", Duration.ofSeconds(30), () -> nodes.stream().allMatch(n -> {
                try {
                    HttpResponse<String> b = get(http, n.uri().resolve("/node/balance?thread=t0&account="
                            + alice.account().hex()));
                    return b.statusCode() == 200 && JSON.readTree(b.body()).path("balance").asLong() == 77;
                } catch (IOException | InterruptedException e) {
                    return false;
                }
            }));
            for (Node n : nodes) {
                String metrics = get(http, n.uri().resolve("/metrics")).body();
                assertTrue(metrics.contains("statesync_share_tls_handshake_failures_total 0.0"), metrics);
            }

            // Anyone else is refused: no client certificate, or plain HTTP to the TLS port.
            Node n1 = nodes.get(0);
            assertEquals("https", n1.uri().getScheme());
            try (HttpClient noCert = Tls.httpClient(TlsFiles.trusting(ca.caFile()).load())
                    .connectTimeout(Duration.ofSeconds(2)).build();
                 HttpClient plainHttp = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
                assertThrows(IOException.class, () -> get(noCert, n1.uri().resolve("/health")));
                assertThrows(IOException.class, () -> get(plainHttp, URI.create("http://127.0.0.1:" + n1.uri().getPort()
                        + "/health")));
            }
            HttpResponse<String> status = get(http, n1.uri().resolve("/node/status"));
            assertEquals(200, status.statusCode(), "still serving: " + status.body());
            assertEquals("n1", JSON.readTree(status.body()).path("node").asText(), status.body());
        } finally {
            for (Node n : nodes) {
                n.close();
            }
        }
    }

    /** {@code c} with https member URLs, serving and dialling with {@code tls}. */
    private static NodeConfig withTls(NodeConfig c, Tls tls) {
        List<NodeConfig.Member> https = c.members().stream().map(m -> new NodeConfig.Member(m.id(),
                URI.create(m.http().toString().replaceFirst("^http:", "https:")), m.raft())).toList();
        return new NodeConfig(c.id(), c.dataDir(), c.host(), c.httpPort(), c.httpRateLimit(), c.gossipPort(),
                c.gossipSeeds(), c.threads(), https, c.producer(), c.saveStateEvery(), c.sync(), c.genesis(), c.join())
                .withTls(tls);
    }
}
