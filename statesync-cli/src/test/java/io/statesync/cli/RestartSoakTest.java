package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Five restarts in a row of real node processes under load (SIGKILL and SIGTERM, leaders and
 * followers of both threads, some at a save point; five rounds of the soak's rotation cover each
 * kind): every restarted node reaches the leader's height within 30 s with no thread failed or
 * halted anywhere, and at the end all state roots are equal. Five, not the twelve this began
 * with: the whole test run must stay under 20 minutes on 2 cores, and this test is the longest
 * in it (about 25 s a restart). {@code statesync soak} runs the same for as long as asked.
 */
class RestartSoakTest {
    @TempDir
    Path dir;

    /** The temp directory goes with the test; a failure's node logs are the only clue, so they stay in target/. */
    private void keepLogs() throws java.io.IOException {
        Path keep = java.nio.file.Files.createDirectories(Path.of("target", "restart-soak-logs"));
        try (var logs = java.nio.file.Files.newDirectoryStream(dir, "*.log")) {
            for (Path log : logs) {
                java.nio.file.Files.copy(log, keep.resolve(log.getFileName()),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        System.out.println("node logs kept in " + keep.toAbsolutePath());
    }

    @Test
    // About 170 s on 2 cores, over half the 5-minute default every test gets (see the root pom):
    // a slower machine must not fail it for taking its time, only a hang should.
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void nodesRestartedAgainAndAgainUnderLoadComeBackAndAgree() throws Exception {
        PrintWriter out = new PrintWriter(System.out, true);
        RestartSoak.Result r;
        try {
            r = new RestartSoak(dir, 5, Duration.ofSeconds(30), 7, out).run();
        } catch (Exception | AssertionError e) {
            keepLogs();
            throw e;
        }
        assertEquals(5, r.restarts());
        assertTrue(r.worstBack().compareTo(Duration.ofSeconds(30)) <= 0, "worst time back " + r.worstBack());
        // Stalls the nodes recovered from by themselves are reported, not failed on here: the
        // restarts above already had to come back in time (see the closing notes of issue 10).
        System.out.println("stalls recovered: " + r.stallsSeen());
        assertTrue(r.rootsMatch(), "state roots differ: " + r.roots());
    }
}
