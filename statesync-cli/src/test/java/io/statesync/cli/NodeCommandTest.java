package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.testing.Ports;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code statesync node}: a bad configuration is one line naming the key, exit 2. */
class NodeCommandTest {
    @TempDir
    Path tmp;

    @Test
    void aMissingConfigFileIsAUsageError() {
        Cli.Result r = Cli.run(Cli.env(tmp), "node", "--config", tmp.resolve("none.yaml").toString());
        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("cannot read config"), r.err());
    }

    @Test
    void aBadValueNamesItsKey() throws Exception {
        Path f = tmp.resolve("node.yaml");
        Files.writeString(f, """
                node: {id: n1, dataDir: data}
                http: {port: 70000}
                threads: [t0]
                members: [{id: n1, http: "http://127.0.0.1:8101", raft: "127.0.0.1:9101"}]
                """);
        Cli.Result r = Cli.run(Cli.env(tmp), "node", "--config", f.toString());
        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("http.port: 70000 is out of range"), r.err());
    }

    static final String CONFIG = """
            node: {id: n1, dataDir: data}
            http: {port: 8101}
            threads: [t0]
            members: [{id: n1, http: "http://127.0.0.1:8101", raft: "127.0.0.1:9101"}]
            """;

    @Test
    void aBusyGossipOrAdminPortIsOneLineAndNothingStaysOpen() throws Exception {
        try (java.net.ServerSocket busy = new java.net.ServerSocket(0, 50,
                java.net.InetAddress.getByName("127.0.0.1"))) {
            int http = Ports.free();
            for (String extra : java.util.List.of("gossip: {port: " + busy.getLocalPort() + "}",
                    "admin: {port: " + busy.getLocalPort() + "}")) {
                Path f = tmp.resolve("busy.yaml");
                Files.writeString(f, "node: {id: n1, dataDir: busy-data}\nhttp: {port: " + http + "}\nthreads: [t0]\n"
                        + "members: [{id: n1, http: \"http://127.0.0.1:" + http + "\", raft: \"127.0.0.1:"
                        + Ports.free() + "\"}]\n" + extra + "\n");
                Cli.Result r = Cli.run(Cli.env(tmp), "node", "--config", f.toString());
                r.assertOneLineFailure(Failures.FAILED);
                assertTrue(r.lastErrLine().contains("cannot start node n1: ")
                        && r.lastErrLine().contains(":" + busy.getLocalPort()), r.err());
                assertFalse(r.lastErrLine().contains("internal error"), r.err());
                // The HTTP port it had opened is closed again
                new java.net.ServerSocket(http, 50, java.net.InetAddress.getByName("127.0.0.1")).close();
            }
        }
    }

    @Test
    void aBadLogFormatOrLevelIsAUsageErrorBeforeAnythingStarts() throws Exception {
        Path f = tmp.resolve("node.yaml");
        Files.writeString(f, CONFIG);

        Cli.Result format = Cli.run(Cli.env(tmp), "node", "--config", f.toString(), "--log-format", "xml");
        format.assertOneLineFailure(Failures.USAGE);
        assertTrue(format.lastErrLine().contains("log format 'xml' is not text or json"), format.err());

        Cli.Result level = Cli.run(Cli.env(tmp), "node", "--config", f.toString(), "--log-level", "io.statesync=loud");
        level.assertOneLineFailure(Failures.USAGE);
        assertTrue(level.lastErrLine().contains("log level 'loud' is not one of"), level.err());
        assertFalse(Files.exists(tmp.resolve("data")), "nothing started");
    }

    @Test
    void anEnvironmentOverrideIsCheckedLikeTheFile() throws Exception {
        Path f = tmp.resolve("node.yaml");
        Files.writeString(f, CONFIG);
        Environment env = new Environment(Map.of(Environment.HOME_VARIABLE, tmp.toString(),
                "STATESYNC_HTTP_PORT", "70000"), tmp, false, new Cli.ManualShutdown());

        Cli.Result r = Cli.run(env, "node", "--config", f.toString());

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("http.port: 70000 is out of range"), r.err());
    }

    @Test
    void aNodeOnEveryInterfaceMustSayWhereOthersReachIt() throws Exception {
        Path f = tmp.resolve("node.yaml");
        Files.writeString(f, CONFIG.replace("http: {port: 8101}", "http: {host: 0.0.0.0, port: 8101}"));

        Cli.Result r = Cli.run(Cli.env(tmp), "node", "--config", f.toString());

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("http.advertise: missing"), r.err());
    }

    @Test
    void theConfigOptionIsRequired() {
        Cli.run(Cli.env(tmp), "node").assertOneLineFailure(Failures.USAGE);
    }
}
