package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.TestCerts;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.RouteResponse;
import io.statesync.transfer.server.ServerConfig;
import io.statesync.transfer.tls.ClientAuth;
import io.statesync.transfer.tls.Tls;
import io.statesync.transfer.tls.TlsFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands' TLS: {@code fetch} and {@code status} with {@code --ca-file [--cert --key]}
 * against servers that speak HTTPS and ask for client certificates, {@code serve} over HTTPS, and
 * the one line a bad TLS file ends {@code serve} and {@code node} with.
 */
class TlsCommandsTest {
    private static final int CHUNK = 64 * 1024;

    @TempDir
    Path tmp;

    @Test
    void fetchChecksTheShareAndPresentsItsCertificate() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), CHUNK, 21);
        Cli.Result shared = Cli.run(Cli.env(tmp), "share", "--chunking=fixed", "--chunk-size=64KiB",
                "--store=" + tmp.resolve("store-a"), in.toString());
        assertEquals(0, shared.exitCode(), shared.err());
        String root = shared.lastOutLine();
        TestCerts ca = TestCerts.authority(tmp.resolve("certs"), "members");
        TestCerts.Issued server = ca.issue("server", "localhost", "127.0.0.1");
        TestCerts.Issued member = ca.issue("member", "member-1");

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ServerConfig config = ServerConfig.loopback().withTls(
                new TlsFiles(server.chain(), server.key(), ca.caFile(), ClientAuth.REQUIRE).load());
        try (FileShareServer share = FileShareServer.start(config, ContentStore.open(tmp.resolve("store-a")),
                registry)) {
            String source = "--source=" + share.uri();
            Cli.Result ok = Cli.run(Cli.env(tmp), "fetch", root, source, "--out=" + tmp.resolve("out"),
                    "--store=" + tmp.resolve("local"), "--ca-file=" + ca.caFile(), "--cert=" + member.chain(),
                    "--key=" + member.key(), "--deadline=30s");
            assertEquals(0, ok.exitCode(), ok.err());
            assertEquals(List.of(), Trees.differences(in, tmp.resolve("out")));

            // Without a client certificate the share refuses the handshake: the fetch fails in one line.
            Cli.Result anonymous = Cli.run(Cli.env(tmp), "fetch", root, source, "--out=" + tmp.resolve("out2"),
                    "--store=" + tmp.resolve("local2"), "--ca-file=" + ca.caFile(), "--deadline=5s",
                    "--retry-wait=100ms", "--max-tries=2");
            anonymous.assertOneLineFailure(Failures.FAILED);
            // Under TLS 1.3 the client learns of the refusal after its handshake: from the
            // certificate_required alert, or from a reset when its request was already on the way.
            assertTrue(anonymous.lastErrLine().contains("(last: " + share.uri()), anonymous.err());

            // A key file that is not a key: one line naming it, before any connection.
            Path notAKey = Files.writeString(tmp.resolve("not-a-key.pem"), "hello\n");
            Cli.Result badKey = Cli.run(Cli.env(tmp), "fetch", root, source, "--out=" + tmp.resolve("out3"),
                    "--store=" + tmp.resolve("local3"), "--ca-file=" + ca.caFile(), "--cert=" + member.chain(),
                    "--key=" + notAKey);
            badKey.assertOneLineFailure(Failures.FAILED);
            assertTrue(badKey.lastErrLine().contains("cannot read TLS key " + notAKey + ": not a PEM file"),
                    badKey.err());
        } finally {
            registry.close();
        }
    }

    @Test
    void statusReachesANodePortUnderMutualTls() throws Exception {
        TestCerts ca = TestCerts.authority(tmp.resolve("certs"), "members");
        TestCerts.Issued server = ca.issue("server", "localhost", "127.0.0.1");
        TestCerts.Issued member = ca.issue("member", "member-1");
        TestCerts.Issued other = ca.issue("other", "other.example");
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ServerConfig config = ServerConfig.loopback().withTls(
                new TlsFiles(server.chain(), server.key(), ca.caFile(), ClientAuth.REQUIRE).load());
        // A stand-in for a node's /node/status, on a port that speaks only mTLS.
        try (FileShareServer node = FileShareServer.startRoutesOnly(config, registry);
             AutoCloseable route = node.mount("node", null, request -> RouteResponse.json(
                     "{\"node\":\"n9\",\"threads\":[]}"))) {
            String[] member1 = {"--ca-file=" + ca.caFile(), "--cert=" + member.chain(), "--key=" + member.key()};
            Cli.Result ok = Cli.run(Cli.env(tmp), concat(new String[] {"status", "--node", node.uri().toString(),
                    "--json"}, member1));
            assertEquals(0, ok.exitCode(), ok.err());
            assertTrue(ok.out().contains("\"n9\""), ok.out());

            Cli.Result anonymous = Cli.run(Cli.env(tmp), "status", "--node", node.uri().toString(),
                    "--ca-file=" + ca.caFile());
            anonymous.assertOneLineFailure(Failures.FAILED);
            assertTrue(anonymous.lastErrLine().startsWith("statesync: cannot reach " + node.uri()), anonymous.err());
        } finally {
            registry.close();
        }
        // A server whose certificate names another host: refused by the host-name check.
        PrometheusMeterRegistry registry2 = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (FileShareServer wrongName = FileShareServer.startRoutesOnly(ServerConfig.loopback().withTls(
                new TlsFiles(other.chain(), other.key(), null, ClientAuth.NONE).load()), registry2)) {
            Cli.Result r = Cli.run(Cli.env(tmp), "status", "--node", wrongName.uri().toString(),
                    "--ca-file=" + ca.caFile());
            r.assertOneLineFailure(Failures.FAILED);
        } finally {
            registry2.close();
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void serveSpeaksHttpsAndABadKeyStopsItInOneLine() throws Exception {
        TestCerts ca = TestCerts.authority(tmp.resolve("certs"), "members");
        TestCerts.Issued server = ca.issue("server", "localhost", "127.0.0.1");
        Path store = tmp.resolve("served");
        byte[] content = "block over tls".getBytes(StandardCharsets.UTF_8);
        Cid cid = ContentStore.open(store).put(Codec.RAW, content);

        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();
        StringWriter err = new StringWriter();
        Environment env = Cli.env(tmp, shutdown);
        var cmd = Main.commandLine(env, new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true));
        ExecutorService executor = Executors.newSingleThreadExecutor();
        Pattern serving = Pattern.compile("serving \\S+ at (https://127\\.0\\.0\\.1:\\d+)");
        try {
            Future<Integer> running = executor.submit(() -> Main.execute(cmd, env, "serve",
                    "--store=" + store, "--port=0", "--cert=" + server.chain(), "--key=" + server.key(),
                    "--ca-file=" + ca.caFile(), "--client-auth=want"));
            Await.until("the serving line", Duration.ofSeconds(20),
                    () -> serving.matcher(err.toString()).find() || running.isDone());
            Matcher m = serving.matcher(err.toString());
            assertTrue(m.find(), err::toString);
            try (HttpClient https = Tls.httpClient(
                    TlsFiles.trusting(ca.caFile()).load()).build()) {
                // want: a client without a certificate is still served.
                HttpResponse<byte[]> blob = https.send(HttpRequest.newBuilder(
                        URI.create(m.group(1) + "/ipfs/" + cid)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, blob.statusCode());
                assertArrayEquals(content, blob.body());
            }
            shutdown.fire();
            assertEquals(0, running.get(20, TimeUnit.SECONDS));
        } finally {
            executor.shutdownNow();
        }

        Cli.Result badKey = Cli.run(Cli.env(tmp), "serve", "--store=" + store, "--port=0",
                "--cert=" + server.chain(), "--key=" + server.chain());
        badKey.assertOneLineFailure(Failures.FAILED);
        assertTrue(badKey.lastErrLine().startsWith("statesync: cannot read TLS key " + server.chain()
                + ": not a PKCS#8 PEM private key"), badKey.err());
        Cli.Result noCa = Cli.run(Cli.env(tmp), "serve", "--store=" + store, "--port=0",
                "--cert=" + server.chain(), "--key=" + server.key(), "--client-auth=require");
        noCa.assertOneLineFailure(Failures.USAGE);
        assertTrue(noCa.lastErrLine().contains("--ca-file"), noCa.err());
    }

    @Test
    void aNodeWithABadTlsFileStopsInOneLineBeforeAnythingStarts() throws Exception {
        Files.createDirectories(tmp.resolve("tls"));
        Files.writeString(tmp.resolve("tls/n1.pem"), "not a certificate\n");
        Files.writeString(tmp.resolve("tls/n1-key.pem"), "not a key\n");
        Path f = Files.writeString(tmp.resolve("node.yaml"), NodeCommandTest.CONFIG
                + "tls: {cert: tls/n1.pem, key: tls/n1-key.pem}\n");
        Cli.Result r = Cli.run(Cli.env(tmp), "node", "--config", f.toString());
        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("tls: cannot read TLS certificate " + tmp.resolve("tls/n1.pem")
                + ": not a PEM file"), r.err());
        assertFalse(Files.exists(tmp.resolve("data")), "nothing started");
    }
}
