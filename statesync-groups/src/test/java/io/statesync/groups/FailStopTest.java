package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.testing.Await;
import io.statesync.groups.sync.replay.LogReplaySync;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A state machine that throws stops its member instead of leaving it silently behind. */
class FailStopTest {
    @TempDir
    Path tmp;

    /** Throws on the command {@code put boom}. */
    static final class Brittle extends KvMachine {
        @Override
        public byte[] apply(long index, byte[] command) {
            if (new String(command, StandardCharsets.UTF_8).contains("boom")) {
                throw new IllegalStateException("the machine cannot apply this");
            }
            return super.apply(index, command);
        }
    }

    @Test
    void aMachineThatThrowsStopsTheMemberWithoutApplyingLaterEntries() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 1, LogReplaySync.DEFAULT, UnaryOperator.identity())) {
            c.startHttp(0);
            c.startGroup(0, c.config(0), new Brittle());
            Group g = c.nodes[0].group;
            g.submitBlocking(KvMachine.put("a", "1"));
            long before = g.applied().index();

            // When a command makes the machine throw
            assertThrows(Exception.class, () -> g.submit(KvMachine.put("boom", "x"))
                    .get(60, java.util.concurrent.TimeUnit.SECONDS));

            // Then its consensus stops, so nothing after the command can be applied on this member
            g.submit(KvMachine.put("b", "2"));
            Await.until(() -> "the consensus stopped: " + g.status(), Duration.ofSeconds(30),
                    () -> !g.status().consensus().equals("RUNNING"));
            assertEquals(1, c.nodes[0].machine.size());
            assertTrue(g.applied().index() <= before + 1, "applied " + g.applied() + " after " + before);
        }
    }
}
