package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.testing.Ports;
import io.statesync.node.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code statesync init} writes configs a node accepts, and refuses bad flags with one line. */
class InitCommandTest {
    @TempDir
    Path dir;

    @Test
    void foundersOnThreeHostsGetOneConfigEachThatTheNodeLoads() throws Exception {
        Cli.Result r = Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--nodes", "3", "--threads", "3",
                "--host", "10.0.0.1,10.0.0.2,10.0.0.3", "--base-port", "7100");

        assertEquals(0, r.exitCode(), r::err);
        for (int i = 1; i <= 3; i++) {
            NodeConfig c = NodeConfig.load(dir.resolve("n" + i + ".yaml"));
            assertEquals("n" + i, c.id());
            assertEquals("10.0.0." + i, c.host());
            assertEquals(7100 + 20 * i, c.httpPort());
            assertEquals(3, c.threads().size());
            assertEquals(3, c.members().size(), "every founder lists every founder");
            assertEquals(7100 + 20 * i + 2, c.self().raft().getPort());
            assertEquals(dir.resolve("n" + i).toAbsolutePath().normalize(), c.dataDir());
            assertTrue(r.out().contains("statesync node --config " + dir.resolve("n" + i + ".yaml")), r.out());
        }
        // One genesis for all
        assertEquals(NodeConfig.load(dir.resolve("n1.yaml")).genesis(), NodeConfig.load(dir.resolve("n3.yaml")).genesis());
    }

    @Test
    void existingConfigsAreNotOverwrittenWithoutForce() throws Exception {
        assertEquals(0, Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--nodes", "1").exitCode());
        Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--nodes", "1").assertOneLineFailure(Failures.FAILED);
        assertEquals(0, Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--nodes", "1", "--force").exitCode());
    }

    @Test
    void badFlagsAreOneLineUsageErrors() {
        String d = dir.toString();
        Cli.run(Cli.env(dir), "init", "--dir", d).assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--nodes", "3", "--join", "http://127.0.0.1:1")
                .assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--nodes", "0").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--nodes", "3", "--threads", "0").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--nodes", "3", "--host", "a,b").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--nodes", "3", "--host", "bad host!")
                .assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--nodes", "3", "--base-port", "65500")
                .assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--join", "http://127.0.0.1:1").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "init", "--dir", d, "--join", "ftp://x", "--id", "n4").assertOneLineFailure(Failures.USAGE);
    }

    @Test
    void joiningThroughANodeThatDoesNotAnswerIsOneLine() throws Exception {
        int port = Ports.free();
        Cli.Result r = Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--join", "http://127.0.0.1:" + port,
                "--id", "n4");
        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains("cannot ask http://127.0.0.1:" + port + " about its cluster"), r.err());
        assertTrue(Files.notExists(dir.resolve("n4.yaml")));
    }

    @Test
    void membersWithBadFlagsAreOneLineUsageErrors() {
        Cli.run(Cli.env(dir), "members", "--admin", "ftp://x").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "members", "--admin", "http://127.0.0.1:1", "--remove", "n2", "--leave")
                .assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "members", "--admin", "http://127.0.0.1:1", "--remove", "bad id!")
                .assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(dir), "members", "--admin", "http://127.0.0.1:1").assertOneLineFailure(Failures.FAILED);
    }
}
