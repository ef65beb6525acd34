package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
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

    @Test
    void theConfigOptionIsRequired() {
        Cli.run(Cli.env(tmp), "node").assertOneLineFailure(Failures.USAGE);
    }
}
