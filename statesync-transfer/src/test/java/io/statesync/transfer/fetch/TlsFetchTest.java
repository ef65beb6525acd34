package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.TestCerts;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import io.statesync.transfer.tls.ClientAuth;
import io.statesync.transfer.tls.Tls;
import io.statesync.transfer.tls.TlsFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file share over TLS and mTLS, and the fetcher's client checking it, over real loopback
 * sockets with certificates made for the test: what passes, and what is refused and how.
 */
class TlsFetchTest {
    @TempDir
    Path tmp;
    private TestCerts ca;
    private TestCerts.Issued server;
    private ContentStore origin;
    private PrometheusMeterRegistry registry;

    @BeforeEach
    void setUp() throws Exception {
        ca = TestCerts.authority(tmp.resolve("certs"), "members");
        server = ca.issue("server", "localhost", "127.0.0.1");
        origin = ContentStore.open(tmp.resolve("origin"));
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    @AfterEach
    void tearDown() {
        registry.close();
    }

    private FileShareServer serve(TlsFiles files) throws Exception {
        return FileShareServer.start(ServerConfig.loopback().withTls(files.load()), origin, registry);
    }

    private static TlsFiles serverFiles(TestCerts.Issued cert, Path ca) {
        return new TlsFiles(cert.chain(), cert.key(), ca, ClientAuth.NONE);
    }

    /** One GET of {@code cid} from {@code base} by the fetcher's own client. */
    private static byte[] get(Tls tls, URI base, Cid cid) throws IOException {
        try (HttpBlobClient client = new HttpBlobClient(tls)) {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            client.get(new Source(base), cid.toString(), System.nanoTime() + TimeUnit.SECONDS.toNanos(10), 1 << 20,
                    new HttpBlobClient.BodySink() {
                        @Override
                        public void begin(long contentLength) {
                        }

                        @Override
                        public void accept(byte[] buf, int off, int len) {
                            body.write(buf, off, len);
                        }
                    });
            return body.toByteArray();
        }
    }

    private double handshakeFailures() {
        return registry.get("statesync.share.tls.handshake.failures").counter().count();
    }

    @Test
    void aSnapshotFetchedOverTlsArrivesVerified() throws Exception {
        byte[] data = new byte[1 << 20];
        new SplittableRandom(4).nextBytes(data);
        Files.createDirectories(tmp.resolve("in"));
        Files.write(tmp.resolve("in/state.bin"), data);
        SnapshotRef snapshot = SnapshotImporter.importPaths(origin, List.of(tmp.resolve("in")),
                Chunking.ContentDefined.ofAverage(16 * 1024), Map.of());
        Tls client = TlsFiles.trusting(ca.caFile()).load();
        try (FileShareServer share = serve(serverFiles(server, null))) {
            assertEquals("https", share.uri().getScheme());
            // Both names the certificate holds: the address and the DNS name.
            URI byName = URI.create("https://localhost:" + share.port());
            for (URI base : List.of(share.uri(), byName)) {
                Path out = tmp.resolve("out-" + base.getHost());
                try (SnapshotFetcher f = new SnapshotFetcher(ContentStore.open(tmp.resolve("store-" + base.getHost())),
                        new SimpleMeterRegistry(), new SourceScores(), client)) {
                    f.fetchInto(snapshot.root(), SourceResolver.of(List.of(new Source(base))), out,
                            FetchOptions.DEFAULT, null);
                }
                assertArrayEquals(data, Files.readAllBytes(out.resolve("state.bin")), base.toString());
            }
            assertEquals(0.0, handshakeFailures());
        }
    }

    @Test
    void aCertificateForAnotherHostIsRefused() throws Exception {
        TestCerts.Issued other = ca.issue("other", "other.example");
        Cid cid = origin.put(Codec.RAW, new byte[] {1, 2, 3});
        Tls client = TlsFiles.trusting(ca.caFile()).load();
        try (FileShareServer share = serve(serverFiles(other, null))) {
            // Signed by the trusted CA, but for another host: the host-name check must refuse it.
            SSLException e = assertThrows(SSLException.class, () -> get(client, share.uri(), cid));
            assertTrue(e.getMessage().startsWith("TLS handshake with 127.0.0.1:" + share.port() + " failed: "),
                    e.getMessage());
            assertTrue(e.getMessage().contains("127.0.0.1"), e.getMessage());
        }
    }

    @Test
    void aServerSignedByAnotherCaIsRefused() throws Exception {
        TestCerts stranger = TestCerts.authority(tmp.resolve("stranger"), "stranger");
        TestCerts.Issued forged = stranger.issue("forged", "localhost", "127.0.0.1");
        Cid cid = origin.put(Codec.RAW, new byte[] {4, 5, 6});
        try (FileShareServer share = serve(serverFiles(forged, null))) {
            SSLException e = assertThrows(SSLException.class,
                    () -> get(TlsFiles.trusting(ca.caFile()).load(), share.uri(), cid));
            assertTrue(e.getMessage().contains("TLS handshake with 127.0.0.1"), e.getMessage());
            // Nor do the JDK's own CAs take a certificate no public CA signed.
            assertThrows(SSLException.class, () -> get(null, share.uri(), cid));
        }
    }

    @Test
    void underMutualTlsOnlyAClientWithACertificateFromTheCaIsServed() throws Exception {
        Cid cid = origin.put(Codec.RAW, new byte[] {7, 8, 9});
        TestCerts.Issued member = ca.issue("member", "member-2");
        TestCerts stranger = TestCerts.authority(tmp.resolve("stranger"), "stranger");
        TestCerts.Issued outsider = stranger.issue("outsider", "outsider");
        Tls anonymous = TlsFiles.trusting(ca.caFile()).load();
        Tls good = TlsFiles.trusting(ca.caFile()).withIdentity(member.chain(), member.key()).load();
        Tls bad = TlsFiles.trusting(ca.caFile()).withIdentity(outsider.chain(), outsider.key()).load();
        try (FileShareServer share = serve(serverFiles(server, ca.caFile()).withClientAuth(ClientAuth.REQUIRE))) {
            // TLS 1.3 may report the refusal on the first read rather than in the handshake.
            assertThrows(IOException.class, () -> get(anonymous, share.uri(), cid));
            assertThrows(IOException.class, () -> get(bad, share.uri(), cid));
            assertArrayEquals(new byte[] {7, 8, 9}, get(good, share.uri(), cid));
            // Counted on the server's thread, maybe a moment after the client saw the refusal.
            Await.until("two failed handshakes counted", Duration.ofSeconds(10), () -> handshakeFailures() >= 2.0);
            assertTrue(registry.scrape().contains("statesync_share_tls_handshake_failures_total"), registry.scrape());
        }
    }

    @Test
    void plainHttpToTheTlsPortFailsAndTheServerKeepsServing() throws Exception {
        Cid cid = origin.put(Codec.RAW, new byte[] {10, 11});
        Tls client = TlsFiles.trusting(ca.caFile()).load();
        try (FileShareServer share = serve(serverFiles(server, null))) {
            URI plain = URI.create("http://127.0.0.1:" + share.port());
            assertThrows(IOException.class, () -> get(null, plain, cid));
            assertArrayEquals(new byte[] {10, 11}, get(client, share.uri(), cid));
            Await.until("the plain request counted as a failed handshake", Duration.ofSeconds(10),
                    () -> handshakeFailures() == 1.0);
        }
    }

    @Test
    void aTlsClientToAPlainPortFailsWithoutHanging() throws Exception {
        Cid cid = origin.put(Codec.RAW, new byte[] {12});
        try (FileShareServer share = FileShareServer.start(ServerConfig.loopback(), origin, registry)) {
            URI tls = URI.create("https://127.0.0.1:" + share.port());
            assertThrows(IOException.class, () -> get(TlsFiles.trusting(ca.caFile()).load(), tls, cid));
            assertArrayEquals(new byte[] {12}, get(null, share.uri(), cid));
        }
    }

    @Test
    void aConnectionOverTheLimitIsAnswered503OverTls() throws Exception {
        Cid cid = origin.put(Codec.RAW, new byte[] {13});
        Tls client = TlsFiles.trusting(ca.caFile()).load();
        ServerConfig config = ServerConfig.loopback().withMaxConnections(1)
                .withTls(serverFiles(server, null).load());
        try (FileShareServer share = FileShareServer.start(config, origin, registry);
             java.net.Socket held = Tls.connect(client, new java.net.Socket("127.0.0.1", share.port()), "127.0.0.1",
                     share.port())) {
            Await.until("the held connection counted", Duration.ofSeconds(10), () -> share.connections() == 1);
            HttpBlobClient.StatusException e = assertThrows(HttpBlobClient.StatusException.class,
                    () -> get(client, share.uri(), cid));
            assertEquals(503, e.status);
        }
        try (FileShareServer share = FileShareServer.start(config, origin, registry)) {
            assertArrayEquals(new byte[] {13}, get(client, share.uri(), cid));
        }
    }
}
