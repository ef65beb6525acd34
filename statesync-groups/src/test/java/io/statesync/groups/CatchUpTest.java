package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.statesync.core.testing.Await;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** A member that fell behind the leader's purged log catches up, with each strategy. */
class CatchUpTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> strategies() {
        return Stream.of(Arguments.of("log-replay", LogReplaySync.DEFAULT.withBatchSize(300)),
                Arguments.of("snapshot", SnapshotSync.DEFAULT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("strategies")
    void wipedFollowerCatchesUpWhileWritesContinue(String name, StateSync sync) throws Exception {
        try (TestCluster c = new TestCluster(tmp, 3, sync, UnaryOperator.identity()).startAll()) {
            c.write("a", 2000);
            int follower = (c.leader().index + 1) % 3;
            c.stop(follower);
            c.wipe(follower);
            c.write("b", 2000);

            // When the wiped member returns while writes go on
            c.start(follower);
            CompletableFuture<Void> more = CompletableFuture.runAsync(() -> {
                try {
                    c.write("c", 1500);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            more.get();

            // Then it reaches the same state as the others
            c.awaitConverged(Duration.ofSeconds(60));
            TestCluster.Node n = c.nodes[follower];
            assertEquals(5500, n.machine.size());
            // The state can be equal a moment before the runner counts the session as completed.
            Await.until(() -> "a catch-up session completed" + c.describe(), Duration.ofSeconds(10),
                    () -> n.group.syncMetrics().count("completed") >= 1);

            // And the caught-up member takes part in new writes, submitted through it
            byte[] result = n.group.submit(KvMachine.put("after", "sync")).get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals("ok", new String(result, java.nio.charset.StandardCharsets.UTF_8));
            c.awaitConverged(Duration.ofSeconds(30));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("strategies")
    void restartedFollowerCatchesUpAfterMissingTenThousandEntries(String name, StateSync sync) throws Exception {
        try (TestCluster c = new TestCluster(tmp, 3, sync, cfg -> cfg.withSnapshotEvery(2000)).startAll()) {
            c.write("a", 1000);
            int follower = (c.leader().index + 2) % 3;
            c.stop(follower);
            c.write("b", 10_000);

            c.start(follower);
            c.awaitConverged(Duration.ofSeconds(90));
            assertEquals(11_000, c.nodes[follower].machine.size());
            Await.until(() -> c.nodes[follower].member.id() + "'s catch-up completed" + c.describe(),
                    Duration.ofSeconds(10), () -> c.nodes[follower].group.syncMetrics().count("completed") >= 1);
        }
    }
}
