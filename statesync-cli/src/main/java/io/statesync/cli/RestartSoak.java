package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.node.ledger.ThreadId;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Restarts nodes of a live cluster again and again and checks that each comes back: a 4-node,
 * 2-thread cluster of separate processes under a transaction load; each round stops one node (SIGKILL
 * or SIGTERM; a thread's leader or a follower; some right at a save point, so the kill lands while
 * the snapshot is being written), starts it again on the same data, and waits until it stands at
 * the height the leader had when it came back, with no thread failed or halted anywhere. Stalls
 * (a thread that stopped following and was recovered by its node's stall watch, configured to
 * 10 s here) are counted from the node logs. At the end the producers pause and every node's
 * state roots must match.
 *
 * <p>Shared by the CI test (a dozen restarts) and {@code statesync soak} (a hundred, by hand).
 */
final class RestartSoak {
    /**
     * What a run saw. {@code worstBack} is the longest time a restarted node took, from answering
     * again, to reach the height its thread's leader had at that moment.
     */
    record Result(int restarts, Duration worstBack, int stallsSeen, boolean rootsMatch, Map<String, Map<String, String>> roots) {
    }

    private static final int NODES = 4;
    private static final int THREADS = 2;
    private static final long SAVE_EVERY = 10;
    private static final Duration STARTUP_LIMIT = Duration.ofMinutes(2);

    private final Path work;
    private final int restarts;
    private final Duration backWithin;
    private final PrintWriter out;
    private final Random random;

    RestartSoak(Path work, int restarts, Duration backWithin, long seed, PrintWriter out) {
        this.work = work;
        this.restarts = restarts;
        this.backWithin = backWithin;
        this.out = out;
        this.random = new Random(seed);
    }

    Result run() throws Exception {
        List<ThreadId> threads = List.of(new ThreadId("t0"), new ThreadId("t1"));
        long deadline = System.nanoTime() + Duration.ofMinutes(10L + 2L * restarts).toNanos();
        try (DemoCluster cluster = DemoCluster.configure(work, NODES, THREADS, SAVE_EVERY, 0,
                // Short enough that a stall is seen, and its recovery done, inside the time a
                // restarted node gets to come back.
                Duration.ofSeconds(10))) {
            List<DemoCluster.NodeSpec> nodes = cluster.specs();
            for (DemoCluster.NodeSpec s : nodes) {
                cluster.launch(s, "256m");
            }
            DemoCommand.awaitLeaders(cluster, nodes, threads, deadline);
            Duration worst = Duration.ZERO;
            int stalls = 0;
            boolean loadStopped = false;
            try (DemoLoad load = new DemoLoad(cluster, nodes, threads, 2, 4096)) {
                load.fund();
                load.start();
                load.mode(DemoLoad.Mode.TRICKLE);
                for (int round = 1; round <= restarts; round++) {
                    ThreadId thread = threads.get(round % THREADS);
                    boolean leader = round % 2 == 1;
                    boolean sigkill = round % 3 != 0;
                    boolean atSave = round % 4 == 0;
                    DemoCluster.NodeSpec victim = pick(cluster, nodes, thread, leader, deadline);
                    if (atSave) {
                        awaitSavePoint(cluster, victim, thread, deadline);
                    }
                    if (sigkill) {
                        cluster.kill(victim);
                    } else {
                        cluster.terminate(victim);
                    }
                    Thread.sleep(200 + random.nextInt(1500));
                    cluster.launch(victim, "256m");
                    long started = System.nanoTime();
                    Duration back = awaitBack(cluster, nodes, victim, threads, started, deadline);
                    worst = back.compareTo(worst) > 0 ? back : worst;
                    out.printf(Locale.ROOT, "restart %d/%d: %s of %s (%s%s) at the leader's height %.1f s after it answered%n",
                            round, restarts, sigkill ? "SIGKILL" : "SIGTERM", victim.id(),
                            leader ? thread.name() + " leader" : "follower", atSave ? ", at a save" : "",
                            back.toMillis() / 1000.0);
                    out.flush();
                    if (load.failure() != null && !loadStopped) {
                        // A writer whose leader died between commit and answer can be refused on its
                        // resend (stale nonce); the blocks go on without it, which is all the soak needs.
                        loadStopped = true;
                        out.println("note: a load writer stopped: " + load.failure());
                    }
                }
                load.mode(DemoLoad.Mode.STOP);
            }
            // Counted in the logs, which every start of a node appends to: a node's stall counter
            // starts again at zero with each of its processes.
            for (DemoCluster.NodeSpec s : nodes) {
                try (var lines = java.nio.file.Files.lines(s.log())) {
                    // One line per recovery attempt; a stall is its first attempt.
                    stalls += (int) lines.filter(l -> l.contains(" STALLED on this member")
                            && l.contains("recovery 1 of")).count();
                }
            }
            Map<String, Map<String, String>> roots = DemoCommand.pauseAndCompare(cluster, nodes, threads, deadline);
            Map<String, String> reference = roots.get(nodes.get(0).id());
            boolean match = roots.values().stream().allMatch(reference::equals);
            return new Result(restarts, worst, stalls, match, roots);
        }
    }

    /** A thread's leader, or a node that does not lead it. */
    private DemoCluster.NodeSpec pick(DemoCluster cluster, List<DemoCluster.NodeSpec> nodes, ThreadId thread,
                                      boolean leader, long deadline) throws Exception {
        while (true) {
            DemoCommand.check(cluster, null, deadline);
            List<DemoCluster.NodeSpec> followers = new ArrayList<>();
            for (DemoCluster.NodeSpec s : nodes) {
                String role = DemoCommand.thread(cluster.requireStatus(s), thread.name()).path("role").asText();
                if (leader && role.equals("LEADER")) {
                    return s;
                }
                if (role.equals("FOLLOWER")) {
                    followers.add(s);
                }
            }
            if (!leader && !followers.isEmpty()) {
                return followers.get(random.nextInt(followers.size()));
            }
            Thread.sleep(100);
        }
    }

    /** Waits until the node has just applied a block that starts a save, so the kill lands while it is written. */
    private static void awaitSavePoint(DemoCluster cluster, DemoCluster.NodeSpec node, ThreadId thread, long deadline)
            throws Exception {
        long start = System.nanoTime();
        while (System.nanoTime() - start < 10_000_000_000L) {
            DemoCommand.check(cluster, null, deadline);
            long h = DemoCommand.thread(cluster.requireStatus(node), thread.name()).path("height").asLong();
            if (h > 0 && h % SAVE_EVERY == 0) {
                return;
            }
            Thread.sleep(20);
        }
    }

    /**
     * Waits until the restarted node stands, on every thread, at least at the height the thread's
     * leader had when the node came back, and no node reports a failed or halted thread (a stalled
     * one is allowed: its node recovers it, and the run counts it from the logs).
     */
    private Duration awaitBack(DemoCluster cluster, List<DemoCluster.NodeSpec> nodes, DemoCluster.NodeSpec victim,
                               List<ThreadId> threads, long started, long deadline) throws Exception {
        Map<String, Long> target = new java.util.HashMap<>();
        // The clock starts when the restarted process answers: a JVM start on a busy 2-core machine
        // alone can take 20 s, and it says nothing about whether the node follows its chain.
        long up = 0;
        long limit = started + STARTUP_LIMIT.toNanos();
        while (true) {
            DemoCommand.check(cluster, null, deadline);
            boolean back = true;
            for (DemoCluster.NodeSpec s : nodes) {
                JsonNode st = s.equals(victim) ? cluster.status(s).orElse(null) : cluster.requireStatus(s);
                if (st == null) {
                    back = false;
                    continue;
                }
                for (ThreadId t : threads) {
                    JsonNode n = DemoCommand.thread(st, t.name());
                    // A stall is counted (metrics, at the end) and recovered by the node itself; a
                    // thread that failed or halted is the end of the run.
                    String trouble = n.path("failed").asText(n.path("halted").asText(""));
                    if (!trouble.isEmpty()) {
                        throw new CommandFailure("node " + s.id() + " thread " + t.name() + " is not following: "
                                + trouble + " (see " + s.log() + ")");
                    }
                    if (!s.equals(victim) && n.path("role").asText().equals("LEADER")) {
                        target.putIfAbsent(t.name(), n.path("height").asLong());
                    }
                }
            }
            JsonNode mine = cluster.status(victim).orElse(null);
            if (mine != null && up == 0) {
                up = System.nanoTime();
                target.clear();
                limit = up + backWithin.toNanos();
                continue;
            }
            for (ThreadId t : threads) {
                Long want = target.get(t.name());
                JsonNode own = mine == null ? null : DemoCommand.thread(mine, t.name());
                // A restarted node that leads the thread again (it won the election before anyone
                // else did) is the height every other member follows: it is back by definition.
                boolean leads = want == null && own != null && own.path("role").asText().equals("LEADER");
                back &= leads || (own != null && want != null && own.path("height").asLong() >= want);
            }
            if (back) {
                return Duration.ofNanos(System.nanoTime() - up);
            }
            if (System.nanoTime() > limit) {
                throw new CommandFailure(up == 0
                        ? "node " + victim.id() + " did not answer within " + STARTUP_LIMIT.toSeconds()
                                + " s of its restart (see " + victim.log() + ")"
                        : "node " + victim.id() + " did not reach the leader's height " + target + " within "
                                + backWithin.toSeconds() + " s of answering again (see " + victim.log() + ")");
            }
            Thread.sleep(100);
        }
    }
}
