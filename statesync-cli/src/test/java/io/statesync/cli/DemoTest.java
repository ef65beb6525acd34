package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The main job end to end at a small size: separate node processes on loopback, a joiner that syncs. */
class DemoTest {
    @TempDir
    Path tmp;

    @Test
    void theDemoSyncsAFreshNodeFromItsPeersAndEveryStateRootMatches() throws Exception {
        Path work = tmp.resolve("work");

        Cli.Result r = Cli.run(Cli.env(tmp), "demo", "--state-size", "4MiB", "--nodes", "3", "--threads", "2",
                "--node-heap", "256m", "--timeout", "4m", "--work", work.toString());

        assertEquals(0, r.exitCode(), () -> r.err() + r.out());
        assertTrue(r.out().contains("state roots match on every node"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("sources used") && l.contains("n1")
                || l.startsWith("sources used") && l.contains("n2") || l.startsWith("sources used") && l.contains("n3")),
                "the joiner fetched from its peers: " + r.out());
        assertEquals(4, r.out().lines().filter(l -> l.matches("n[1-4] +\\{t0=.*, t1=.*}")).count(), r.out());
        // The joiner came in through the API: the founders' configs never name it, and every thread
        // counted 3 voters before and 4 after, n4 a voter
        for (int i = 1; i <= 3; i++) {
            assertFalse(Files.readString(work.resolve("n" + i + ".yaml")).contains("n4"));
        }
        assertTrue(Files.readString(work.resolve("n4.yaml")).contains("join: [http://127.0.0.1:"));
        assertEquals(2, r.out().lines().filter(l -> l.startsWith("members of t")
                && l.matches(".*before n\\d (leader|follower), n\\d (leader|follower), n\\d (leader|follower); "
                + "after .*n4 (leader|follower).*")).count(), r.out());
        // Every node logged to its file and was stopped: no process is left behind.
        for (int i = 1; i <= 4; i++) {
            assertTrue(Files.size(work.resolve("n" + i + ".log")) > 0);
        }
        // A node logs at INFO, with ISO times and thread names: the joiner told how it joined and loaded its state,
        // and the JVM and libraries had nothing to warn about.
        List<String> joinerLog = Files.readAllLines(work.resolve("n4.log"));
        assertTrue(joinerLog.stream().anyMatch(l -> l.matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO +\\[[^]]+] \\S+ - node n4 serving .*")),
                () -> String.join("\n", joinerLog));
        assertTrue(joinerLog.stream().anyMatch(l -> l.contains(" INFO ") && l.contains("joins through")),
                () -> String.join("\n", joinerLog));
        assertEquals(List.of(), joinerLog.stream().filter(l -> l.startsWith("WARNING:") || l.contains("Unsafe")
                || l.contains("already registered")).toList(), "no JDK or meter-registry warnings");
        assertFalse(ProcessHandle.current().children().anyMatch(ProcessHandle::isAlive), "no child process left");
    }

    @Test
    void ctrlCStopsEveryNodeProcessAndExits130() throws Exception {
        Path work = tmp.resolve("work");
        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();
        java.util.concurrent.CompletableFuture<Cli.Result> run = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> Cli.run(Cli.env(tmp, shutdown), "demo", "--state-size", "64MiB", "--node-heap", "256m",
                        "--work", work.toString()));
        // Once the nodes are up and the load runs, as a user pressing Ctrl-C would.
        Cli.await(java.time.Duration.ofSeconds(90), () -> ProcessHandle.current().descendants()
                .filter(ProcessHandle::isAlive).count() >= 3 && Files.exists(work.resolve("n1.log")), "node processes");
        Thread.sleep(3000);
        shutdown.fire();

        Cli.Result r = run.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(130, r.exitCode(), () -> r.err());
        assertFalse(ProcessHandle.current().descendants().anyMatch(ProcessHandle::isAlive), "no node process left");
    }

    @Test
    void badFlagsAreOneLineUsageErrors() {
        Cli.run(Cli.env(tmp), "demo", "--nodes", "0").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(tmp), "demo", "--state-size", "10KiB").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(tmp), "demo", "--threads", "99").assertOneLineFailure(Failures.USAGE);
        Cli.run(Cli.env(tmp), "demo", "--node-heap", "lots").assertOneLineFailure(Failures.USAGE);
    }
}
