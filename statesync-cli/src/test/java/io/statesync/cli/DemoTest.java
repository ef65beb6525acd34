package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.statesync.core.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job's command line: Ctrl-C and bad flags. The demo itself runs to the end in the test
 * run once, from the installed tarball (statesync-dist's {@code DistributionIT}), which checks its
 * output, configs and logs.
 */
class DemoTest {
    @TempDir
    Path tmp;

    @Test
    void ctrlCStopsEveryNodeProcessAndExits130() throws Exception {
        Path work = tmp.resolve("work");
        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();
        java.util.concurrent.CompletableFuture<Cli.Result> run = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> Cli.run(Cli.env(tmp, shutdown), "demo", "--state-size", "64MiB", "--node-heap", "256m",
                        "--work", work.toString()));
        // Once the nodes are up and the load runs, as a user pressing Ctrl-C would.
        Await.until("three node processes and n1's log", java.time.Duration.ofSeconds(90),
                () -> ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).count() >= 3
                        && Files.exists(work.resolve("n1.log")));
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
