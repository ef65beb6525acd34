package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.core.testing.Ports;
import io.statesync.core.testing.TestCerts;
import io.statesync.node.ledger.ThreadId;
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

    @Test
    void aNodeUnderMutualTlsAnswersMembersAndRefusesOthers() throws Exception {
        int http = Ports.free();
        NodeConfig config = load(yaml(http, Ports.free(), tlsSection("require")), Map.of());
        Tls member = TlsFiles.trusting(ca.caFile()).withIdentity(node.chain(), node.key()).load();
        Tls anonymous = TlsFiles.trusting(ca.caFile()).load();
        try (Node n = Node.start(config);
             HttpClient good = Tls.httpClient(member).connectTimeout(Duration.ofSeconds(2)).build();
             HttpClient noCert = Tls.httpClient(anonymous).connectTimeout(Duration.ofSeconds(2)).build();
             HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            assertEquals("https", n.uri().getScheme());
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!"LEADER".equals(n.thread(new ThreadId("t0").name()).orElseThrow().groupStatus().role())) {
                assertTrue(System.nanoTime() < deadline, "the one node leads its thread");
                Thread.sleep(50);
            }
            HttpResponse<String> status = get(good, n.uri().resolve("/node/status"));
            assertEquals(200, status.statusCode(), status.body());
            assertEquals("n1", JSON.readTree(status.body()).path("node").asText(), status.body());

            assertThrows(IOException.class, () -> get(noCert, n.uri().resolve("/health")));
            assertThrows(IOException.class, () -> get(plain, URI.create("http://127.0.0.1:" + http + "/health")));
            assertEquals(200, get(good, n.uri().resolve("/health")).statusCode(), "still serving");
        }
    }

    private static HttpResponse<String> get(HttpClient client, URI uri) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
