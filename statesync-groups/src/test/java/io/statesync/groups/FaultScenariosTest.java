package io.statesync.groups;

import static io.statesync.groups.TestCluster.changes;
import static io.statesync.groups.TestCluster.voters;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.Counter;
import io.statesync.core.testing.Await;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault scenarios of issue 14 on real members (in-process, real sockets on loopback): a
 * snapshot catch-up that loses a provider or the leader mid-transfer, a provider that goes silent
 * mid-replay, three members joining at once, and a partition that heals. Paths are faulted through
 * {@link TcpProxy} proxies in front of members' ports ({@link TestCluster#listenBehind}).
 */
@Timeout(240)
class FaultScenariosTest {
    @TempDir
    Path tmp;

    private final List<TcpProxy> proxies = new ArrayList<>();

    @AfterEach
    void closeProxies() throws Exception {
        for (TcpProxy p : proxies) {
            p.close();
        }
    }

    /** A cluster whose every member's HTTP server is reached through a proxy, {@code http[i]} for member i. */
    private TestCluster behindHttpProxies(int n, IntFunction<StateSync> syncs, UnaryOperator<GroupConfig> tweak,
                                          TcpProxy[] http) throws Exception {
        TestCluster c = new TestCluster(tmp, n, syncs, tweak);
        for (int i = 0; i < n; i++) {
            c.listenBehind(i, false);
            http[i] = proxy("n" + i + "-http", c.nodes[i].member.http().getPort(), c.nodes[i].httpListen);
        }
        return c;
    }

    private TcpProxy proxy(String name, int listen, int target) throws Exception {
        TcpProxy p = new TcpProxy(name, listen, target);
        proxies.add(p);
        return p;
    }

    // --- snapshot catch-up losing a provider or the leader mid-transfer ---------------------------

    @Test
    void snapshotCatchUpConvergesWhenAProviderIsKilledMidTransfer() throws Exception {
        snapshotCatchUpLosingAMemberMidTransfer(false);
    }

    @Test
    void snapshotCatchUpConvergesWhenTheLeaderIsKilledMidTransfer() throws Exception {
        snapshotCatchUpLosingAMemberMidTransfer(true);
    }

    /**
     * Four members; one lags behind the leader's purged log and installs a snapshot of about 1.5 MiB
     * (distinct chunks of 256 KiB on average) fetched from the three others, each through a proxy
     * that slows what it sends. Once chunks flow, a provider (or the leader) is stopped.
     */
    private void snapshotCatchUpLosingAMemberMidTransfer(boolean leader) throws Exception {
        // Two chunk requests in flight at a time (a local setting: the signature is the default's).
        SnapshotSync sync = new SnapshotSync(SnapshotSync.DEFAULT.offerTimeout(), SnapshotSync.DEFAULT.leaseTtl(), 2);
        TcpProxy[] http = new TcpProxy[4];
        try (TestCluster c = behindHttpProxies(4, i -> sync, cfg -> cfg.withSnapshotEvery(300), http).startAll()) {
            c.write("a", 100);
            int lagging = follower(c);
            c.stop(lagging);
            c.write("b", 700, 2048);
            int victim = leader ? c.leader().index : follower(c, lagging);
            for (TcpProxy p : http) {
                p.rate(96 << 10);
            }

            c.start(lagging);
            TestCluster.Node n = c.nodes[lagging];
            Await.until(() -> "snapshot chunks arriving on " + n.member.id() + c.describe(), Duration.ofSeconds(60),
                    () -> {
                        var p = n.running() ? n.group.status().syncProgress() : null;
                        return p != null && p.unit().equals("bytes") && p.done() > 0 && p.done() < p.total();
                    });
            assertEquals(0, n.machine.installs.get(), "nothing installed before the transfer ends");
            c.stop(victim);
            for (TcpProxy p : http) {
                p.rate(0);
            }

            c.awaitConverged(Duration.ofSeconds(90));
            assertEquals(800, n.machine.size());
            assertTrue(n.machine.installs.get() >= 1, "the state came by a snapshot install");
            Await.until(() -> "the catch-up counted as completed" + c.describe(), Duration.ofSeconds(10),
                    () -> n.group.syncMetrics().count("completed") >= 1);
            // Every value is the one written: the digest check above compares members, this the writer.
            for (int i = 0; i < 700; i += 37) {
                byte[] expected = new byte[2048];
                new java.util.SplittableRandom(("b" + i).hashCode()).nextBytes(expected);
                assertTrue(java.util.Arrays.equals(expected, n.machine.query(("get b" + i).getBytes())), "b" + i);
            }
        }
    }

    // --- a provider blackholed mid-replay ---------------------------------------------------------

    @Test
    void blackholedProviderIsCutOffByRequestDeadlinesDuringLogReplay() throws Exception {
        Duration fetchTimeout = Duration.ofSeconds(2);
        FaultySync[] f = new FaultySync[4];
        for (int i = 0; i < 4; i++) {
            f[i] = new FaultySync(LogReplaySync.DEFAULT.withBatchSize(50).withFetchTimeout(fetchTimeout));
        }
        TcpProxy[] http = new TcpProxy[4];
        try (TestCluster c = behindHttpProxies(4, i -> f[i], UnaryOperator.identity(), http).startAll()) {
            c.write("a", 100);
            int lagging = follower(c);
            int silent = follower(c, lagging);
            c.stop(lagging);
            c.write("b", 800);
            for (FaultySync s : f) {
                s.mode = FaultySync.Mode.SLOW;
            }

            c.start(lagging);
            TestCluster.Node n = c.nodes[lagging];
            String silentId = c.nodes[silent].member.id();
            Await.until(() -> "entries from " + silentId + " applied" + c.describe(), Duration.ofSeconds(60),
                    () -> n.running() && entriesFrom(n, silentId) > 0);

            // When the provider's port goes silent mid-session: requests read, never answered, never closed
            http[silent].mode(TcpProxy.Mode.BLACKHOLE);
            double fromOthers = entriesFromAllBut(n, silentId);
            long swallowedBefore = http[silent].swallowed();
            for (FaultySync s : f) {
                s.mode = FaultySync.Mode.NORMAL;
            }
            long t0 = System.nanoTime();

            // Then the member finishes from the others, in the same session, well within its deadline
            c.awaitConverged(Duration.ofSeconds(50));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertEquals(900, n.machine.size());
            Await.until(() -> "the catch-up counted as completed" + c.describe(), Duration.ofSeconds(10),
                    () -> n.group.syncMetrics().count("completed") >= 1);
            assertEquals(0.0, n.group.syncMetrics().count("failed"), "no attempt ran into its 60 s deadline");
            assertTrue(took.compareTo(Duration.ofSeconds(40)) < 0, "converged " + took + " after the blackhole");
            // And the silent peer was asked and left unanswered, and the others supplied the rest
            assertTrue(http[silent].swallowed() > swallowedBefore, "requests went into the blackhole: " + http[silent]);
            assertTrue(entriesFromAllBut(n, silentId) > fromOthers, "entries from the other peers after the blackhole");
        }
    }

    private static double entriesFromAllBut(TestCluster.Node n, String source) {
        return n.registry.find("statesync.groups.sync.entries").counters().stream()
                .filter(c -> !source.equals(c.getId().getTag("source"))).mapToDouble(Counter::count).sum();
    }

    private static double entriesFrom(TestCluster.Node n, String source) {
        Counter counter = n.registry.find("statesync.groups.sync.entries").tag("source", source).counter();
        return counter == null ? 0 : counter.count();
    }

    // --- three joiners at once -------------------------------------------------------------------

    @Test
    void threeMembersJoinAtOnceWhileWritesGoOn() throws Exception {
        // Given 3 founders with state, and 3 more members that name only themselves
        try (TestCluster c = new TestCluster(tmp, 6, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(200))
                .founders(3).startAll()) {
            c.write("a", 300);
            for (int i = 3; i < 6; i++) {
                c.startHttp(i);
            }

            // When all three start joining at the same moment, while writes go on
            CompletableFuture<Void> more = CompletableFuture.runAsync(() -> {
                try {
                    c.write("b", 300);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            List<CompletableFuture<Void>> starts = new ArrayList<>();
            for (int i = 3; i < 6; i++) {
                int k = i;
                starts.add(CompletableFuture.runAsync(() -> {
                    try {
                        c.startGroup(k);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (CompletableFuture<Void> f : starts) {
                f.get(60, TimeUnit.SECONDS);
            }

            // Then each loads the state, is added as a listener and promoted, once each
            for (int i = 3; i < 6; i++) {
                TestCluster.Node j = c.nodes[i];
                Await.until(() -> j.member.id() + " joined" + c.describe(), Duration.ofSeconds(120),
                        () -> j.group.joinPhase() == Group.JoinPhase.MEMBER);
            }
            more.get(120, TimeUnit.SECONDS);
            for (int i = 3; i < 6; i++) {
                assertEquals(1.0, changes(c.nodes[i], "add_listener"), c.nodes[i].member.id() + " added once");
                assertEquals(1.0, changes(c.nodes[i], "promote"), c.nodes[i].member.id() + " promoted once");
            }
            // And every member counts 6 voters, the group commits with them, and all hold one state
            for (TestCluster.Node n : c.nodes) {
                Await.until(() -> "6 voters on " + n.member.id() + ": " + n.group.members(), Duration.ofSeconds(30),
                        () -> voters(n.group).size() == 6);
            }
            c.write("c", 50);
            c.awaitConverged(Duration.ofSeconds(60));
            for (TestCluster.Node n : c.nodes) {
                assertEquals(650, n.machine.size(), n.member.id());
            }
        }
    }


    // --- a partition that heals -------------------------------------------------------------------

    /**
     * Member n2's consensus and HTTP ports are reached through proxies: every member's list names
     * it at the proxies' ports, and it binds others. It starts after n0 and n1 have a leader, so the
     * configuration the leader writes names n2 behind the proxies (checked). Cutting both proxies
     * cuts everything the others send n2 (Ratis's appends and heartbeats, catch-up requests); what
     * n2 sends (vote requests) still reaches them, and is refused, n2's log being behind theirs.
     */
    @Test
    void aPartitionedMemberCatchesUpOnceThePartitionHeals() throws Exception {
        int x = 2;
        TestCluster c = new TestCluster(tmp, 3, LogReplaySync.DEFAULT.withBatchSize(200),
                cfg -> cfg.withSnapshotEvery(300));
        try (c) {
            c.listenBehind(x, true);
            TestCluster.Node cut = c.nodes[x];
            TcpProxy raft = proxy("n2-raft", cut.member.raft().getPort(), cut.raftListen);
            TcpProxy http = proxy("n2-http", cut.member.http().getPort(), cut.httpListen);
            for (int i = 0; i < 3; i++) {
                c.startHttp(i);
            }
            CompletableFuture<Void> n0 = CompletableFuture.runAsync(() -> start(c, 0));
            start(c, 1);
            n0.get(60, TimeUnit.SECONDS);
            TestCluster.Node leader = c.leader();
            c.startGroup(x);
            Await.until(() -> "the leader names n2 at the proxy: " + leader.group.members(), Duration.ofSeconds(30),
                    () -> leader.group.members().stream().anyMatch(m -> m.id().equals("n2")
                            && m.raft().equals("127.0.0.1:" + cut.member.raft().getPort())));
            c.write("a", 200);
            c.awaitConverged(Duration.ofSeconds(60));
            assertTrue(raft.forwarded() > 0, "consensus traffic went through " + raft);

            // When n2 is cut off, and the other two commit on without it
            raft.mode(TcpProxy.Mode.CUT);
            http.mode(TcpProxy.Mode.CUT);
            long cutAt = cut.group.applied().index();
            c.write("b", 800);
            long groupAt = c.leader().group.applied().index();
            assertTrue(cut.group.applied().index() < groupAt - 500,
                    "n2 followed through the partition: " + c.describe());
            assertTrue(cut.group.applied().index() <= cutAt + 5, "n2 applied entries while cut off: " + c.describe());
            assertTrue(c.leader().index != x, "n2 cannot lead while cut off");

            // Then once the partition heals, n2 catches up and converges, and takes part again
            raft.mode(TcpProxy.Mode.FORWARD);
            http.mode(TcpProxy.Mode.FORWARD);
            c.awaitConverged(Duration.ofSeconds(60));
            assertEquals(1000, cut.machine.size());
            c.write("c", 50);
            c.awaitConverged(Duration.ofSeconds(30));
            assertEquals(1050, cut.machine.size());
        }
    }

    private static void start(TestCluster c, int i) {
        try {
            c.startGroup(i);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    // --- helpers ----------------------------------------------------------------------------------

    /** A member that is neither the leader nor {@code not}. */
    private static int follower(TestCluster c, int... not) throws InterruptedException {
        int leader = c.leader().index;
        outer:
        for (int i = 0; i < c.nodes.length; i++) {
            if (i == leader || !c.nodes[i].running()) {
                continue;
            }
            for (int x : not) {
                if (i == x) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("no such follower");
    }
}
