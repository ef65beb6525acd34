package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.TestCerts;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.RouteResponse;
import io.statesync.transfer.server.ServerConfig;
import io.statesync.transfer.tls.ClientAuth;
import io.statesync.transfer.tls.TlsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fetch} and {@code status} with {@code --ca-file [--cert --key]} against servers that
 * speak HTTPS and ask for client certificates.
 */
class FetchTlsTest {
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
}
