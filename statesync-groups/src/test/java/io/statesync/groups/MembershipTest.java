package io.statesync.groups;

import static io.statesync.groups.TestCluster.changes;
import static io.statesync.groups.TestCluster.voters;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.testing.Await;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Members join a running group, and leave it, through Ratis's reconfiguration: real servers on loopback. */
@Timeout(300)
class MembershipTest {
    @TempDir
    Path tmp;

    @Test
    void aJoinerSyncsAsAListenerIsPromotedAndTheGroupThenToleratesALostFounder() throws Exception {
        // Given a group founded by 3 members whose lists never name a fourth, with state in it
        try (TestCluster c = new TestCluster(tmp, 4, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(200))
                .founders(3).startAll()) {
            c.write("a", 1500);
            assertEquals(List.of("n0", "n1", "n2"), voters(c.leader().group));

            // When the fourth starts with only a founder's URL to join through, while writes go on
            c.startHttp(3);
            CompletableFuture<Void> more = CompletableFuture.runAsync(() -> {
                try {
                    c.write("b", 1000);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            c.startGroup(3);
            TestCluster.Node joiner = c.nodes[3];
            Await.until(() -> "the joiner joined" + c.describe(), Duration.ofSeconds(90),
                    () -> joiner.group.joinPhase() == Group.JoinPhase.MEMBER);
            more.get(120, TimeUnit.SECONDS);

            // Then it is in the same group (the id does not depend on the member list), it was added
            // as a listener first and then promoted, by itself, once each
            assertEquals(c.nodes[0].group.id(), joiner.group.id());
            assertEquals(1.0, changes(joiner, "add_listener"));
            assertEquals(1.0, changes(joiner, "promote"));
            // And every member counts 4 voters and holds the same state
            for (TestCluster.Node n : c.nodes) {
                Await.until(() -> "4 voters on " + n.member.id() + ": " + n.group.members(), Duration.ofSeconds(30),
                        () -> voters(n.group).size() == 4);
            }
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(2500, joiner.machine.size());

            // And a restarted joiner resumes as the voter it is: not added again
            c.stop(3);
            c.start(3);
            Await.until(() -> "the joiner a member again" + c.describe(), Duration.ofSeconds(30),
                    () -> joiner.group.joinPhase() == Group.JoinPhase.MEMBER);
            assertEquals(0.0, changes(joiner, "add_listener"), "a fresh registry: no change made after the restart");
            assertEquals(4, voters(c.leader().group).size());

            // When a founder other than the leader dies, 3 of 4 voters still commit
            int dead = (c.leader().index + 1) % 3;
            c.stop(dead);
            c.write("c", 100);

            // And once the dead member is removed, every member left counts 3 voters
            c.leader().group.removeMember("n" + dead);
            for (TestCluster.Node n : c.nodes) {
                if (n.running()) {
                    Await.until(() -> "n" + dead + " removed on " + n.member.id() + ": " + n.group.members(),
                            Duration.ofSeconds(30),
                            () -> voters(n.group).size() == 3 && !voters(n.group).contains("n" + dead));
                }
            }
            c.write("d", 100);
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(2700, joiner.machine.size());
        }
    }

    @Test
    void aJoinGoesOnThroughALeaderChange() throws Exception {
        // Given 3 founders with state, and a fourth starting to join
        try (TestCluster c = new TestCluster(tmp, 4, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(200))
                .founders(3).startAll()) {
            c.write("a", 1000);
            int leader = c.leader().index;
            c.startHttp(3);
            c.startGroup(3);
            TestCluster.Node joiner = c.nodes[3];

            // When the leader stops while the joiner loads the state or asks to be added
            c.stop(leader);

            // Then the joiner still becomes a voter, through whichever founder leads next
            Await.until(() -> "the joiner joined" + c.describe(), Duration.ofSeconds(120),
                    () -> joiner.group.joinPhase() == Group.JoinPhase.MEMBER);
            Await.until(() -> "4 voters on the joiner: " + joiner.group.members(), Duration.ofSeconds(30),
                    () -> voters(joiner.group).size() == 4);
            // And the group commits with 3 of its 4 voters running, the joiner among them
            c.write("b", 100);
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(1100, joiner.machine.size());
        }
    }

    @Test
    void unsafeAndUnknownRemovalsAreRefusedWithAReason() throws Exception {
        try (TestCluster c = new TestCluster(tmp, 2, SnapshotSync.DEFAULT, cfg -> cfg).startAll()) {
            Group g = c.leader().group;
            MembershipException unknown = assertThrows(MembershipException.class, () -> g.removeMember("n9"));
            assertEquals(MembershipException.Kind.NOT_A_MEMBER, unknown.kind());
            assertTrue(unknown.getMessage().contains("'n9' is not a member of group test (members: n0, n1)"),
                    unknown.getMessage());

            // Removing one of two voters is allowed; the one left is then the last voter
            String other = c.leader().index == 0 ? "n1" : "n0";
            g.removeMember(other);
            Await.until(() -> "1 voter left: " + g.members(), Duration.ofSeconds(30), () -> voters(g).size() == 1);
            MembershipException last = assertThrows(MembershipException.class,
                    () -> g.removeMember(g.status().member()));
            assertEquals(MembershipException.Kind.REFUSED, last.kind());
            assertTrue(last.getMessage().contains("is the last voter"), last.getMessage());

            // And the group still commits with the one voter it has
            g.submitBlocking(KvMachine.put("k", "v"));
        }
    }

}
