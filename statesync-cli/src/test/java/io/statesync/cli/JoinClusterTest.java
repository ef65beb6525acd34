package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.core.testing.Await;
import io.statesync.core.testing.Ports;
import io.statesync.node.ledger.ThreadId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new machine joins a running network, as an operator would do it: three founders from
 * {@code statesync init}, load running, then a fourth and a fifth node from {@code init --join}
 * configs. Each joins, syncs and is promoted; then a founder dies and the five-voter cluster goes
 * on, the dead member is removed, and a node leaves. Separate node processes on loopback.
 */
@Timeout(600)
class JoinClusterTest {
    private static final List<ThreadId> THREADS = List.of(new ThreadId("t0"), new ThreadId("t1"));

    @TempDir
    Path dir;

    @Test
    void nodesFromInitJoinARunningClusterAreCountedAsVotersAndTheClusterOutlivesAFounder() throws Exception {
        int base = freeBase();
        // Given three founders written by init
        Cli.Result init = Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--nodes", "3", "--threads", "2",
                "--base-port", Integer.toString(base), "--save-every", "20");
        assertEquals(0, init.exitCode(), init::err);
        assertTrue(init.out().contains("statesync node --config " + dir.resolve("n1.yaml")), init.out());
        for (int i = 1; i <= 3; i++) {
            assertFalse(Files.readString(dir.resolve("n" + i + ".yaml")).contains("n4"), "founders never name n4");
        }
        List<DemoCluster.NodeSpec> nodes = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            nodes.add(spec("n" + i, base + 20 * i));
        }
        try (DemoCluster cluster = DemoCluster.of(dir, nodes)) {
            for (DemoCluster.NodeSpec s : nodes) {
                cluster.launch(s, "256m");
            }
            DemoCommand.awaitLeaders(cluster, nodes, THREADS, System.nanoTime() + 120_000_000_000L);
            try (DemoLoad load = new DemoLoad(cluster, List.copyOf(nodes), THREADS, 2)) {
                load.fund();
                load.start();
                load.mode(DemoLoad.Mode.FILL);
                Await.until("n1 holds over 2 MiB of state", Duration.ofSeconds(180),
                        () -> stateBytes(cluster, nodes.get(0)) > 2L << 20);
                load.mode(DemoLoad.Mode.TRICKLE);

                // When a fourth and a fifth node join through init --join configs, one after the other
                for (int k = 4; k <= 5; k++) {
                    int port = base + 200 + 40 * k;
                    DemoCluster.NodeSpec via = nodes.get(k - 3);
                    Cli.Result join = Cli.run(Cli.env(dir), "init", "--dir", dir.toString(), "--join",
                            via.url().toString(), "--id", "n" + k, "--base-port", Integer.toString(port));
                    assertEquals(0, join.exitCode(), join::err);
                    String yaml = Files.readString(dir.resolve("n" + k + ".yaml"));
                    assertTrue(yaml.contains("join: [" + via.url()), yaml);
                    DemoCluster.NodeSpec joiner = spec("n" + k, port);
                    cluster.launch(joiner, "256m");
                    nodes.add(joiner);
                    Await.until(joiner.id() + " promoted to a voter, caught up", Duration.ofSeconds(180),
                            () -> promoted(cluster, joiner));
                }
                assertTrue(load.failure() == null, () -> "load: " + load.failure());
            }

            // Then every node counts five voters on every thread, and all hold the same state
            for (DemoCluster.NodeSpec s : nodes) {
                Await.until(s.id() + " counts five voters on every thread", Duration.ofSeconds(60),
                        () -> voters(cluster, s).values().stream().allMatch(v -> v.size() == 5));
            }
            Map<String, Map<String, String>> roots = DemoCommand.pauseAndCompare(cluster, nodes, THREADS,
                    System.nanoTime() + 120_000_000_000L);
            assertEquals(1, roots.values().stream().distinct().count(), () -> "state roots: " + roots);

            // When a founder dies, the others still produce blocks: 4 of 5 voters are a quorum
            cluster.kill(nodes.get(0));
            List<DemoCluster.NodeSpec> alive = nodes.subList(1, nodes.size());
            for (DemoCluster.NodeSpec s : alive) {
                for (ThreadId t : THREADS) {
                    cluster.post(s.adminUrl().resolve("/admin/producer/" + t.name() + "/resume"), new byte[0]);
                }
            }
            long before = height(cluster, alive.get(0), "t0");
            Await.until(alive.get(0).id() + " produces 10 more blocks of t0 without n1", Duration.ofSeconds(120),
                    () -> height(cluster, alive.get(0), "t0") > before + 10);

            // And once the dead founder is removed, no thread of any node lists it
            Cli.Result removed = Cli.run(Cli.env(dir), "members", "--admin", alive.get(0).adminUrl().toString(),
                    "--remove", "n1");
            assertEquals(0, removed.exitCode(), removed::err);
            for (DemoCluster.NodeSpec s : alive) {
                Await.until(s.id() + " no longer lists n1", Duration.ofSeconds(60),
                        () -> voters(cluster, s).values().stream().allMatch(v -> v.size() == 4 && !v.contains("n1")));
            }
            // And a second removal of it is a one-line refusal naming why
            Cli.run(Cli.env(dir), "members", "--admin", alive.get(0).adminUrl().toString(), "--remove", "n1")
                    .assertOneLineFailure(Failures.FAILED);

            // And a node that leaves is taken out of every thread and its process ends with 0
            DemoCluster.NodeSpec leaver = nodes.get(4);
            Cli.Result left = Cli.run(Cli.env(dir), "members", "--admin", leaver.adminUrl().toString(), "--leave");
            assertEquals(0, left.exitCode(), left::err);
            assertEquals(0, cluster.awaitExit(leaver, Duration.ofSeconds(60)));
            for (DemoCluster.NodeSpec s : alive.subList(0, 3)) {
                Await.until(s.id() + " no longer lists n5", Duration.ofSeconds(60),
                        () -> voters(cluster, s).values().stream().allMatch(v -> v.size() == 3 && !v.contains("n5")));
            }
        }
    }

    private DemoCluster.NodeSpec spec(String id, int http) {
        // The ports init gives a node whose block starts at http (admin last, on 127.0.0.1).
        return new DemoCluster.NodeSpec(id, http, http + 1, http + 2, http + 19, dir.resolve(id + ".yaml"),
                dir.resolve(id), dir.resolve(id + ".log"));
    }

    private static boolean promoted(DemoCluster cluster, DemoCluster.NodeSpec s) {
        JsonNode st = cluster.status(s).orElse(null);
        if (st == null || st.path("threads").size() != THREADS.size()) {
            return false;
        }
        for (JsonNode t : st.path("threads")) {
            if (!t.path("joining").asText("").equals("member") || t.path("catchingUp").asBoolean(true)) {
                return false;
            }
        }
        return true;
    }

    private static Map<String, List<String>> voters(DemoCluster cluster, DemoCluster.NodeSpec s) {
        Map<String, List<String>> out = new java.util.TreeMap<>();
        cluster.status(s).ifPresent(st -> st.path("threads").forEach(t -> {
            List<String> ids = new ArrayList<>();
            t.path("members").forEach(m -> {
                if (!m.path("role").asText().equals("listener")) {
                    ids.add(m.path("id").asText());
                }
            });
            out.put(t.path("thread").asText(), ids);
        }));
        return out.isEmpty() ? Map.of("none", List.of()) : out;
    }

    private static long stateBytes(DemoCluster cluster, DemoCluster.NodeSpec s) {
        return cluster.status(s).map(st -> {
            long sum = 0;
            for (JsonNode t : st.path("threads")) {
                sum += t.path("stateBytes").asLong();
            }
            return sum;
        }).orElse(0L);
    }

    private static long height(DemoCluster cluster, DemoCluster.NodeSpec s, String thread) {
        return cluster.status(s).map(st -> DemoCommand.thread(st, thread).path("height").asLong()).orElse(-1L);
    }

    /**
     * A base port with the ports init will hand out all free right now: founder i's block at
     * base + 20 i, joiner k's at base + 200 + 40 k (k = 4, 5), so base + 20 up to base + 419.
     */
    private static int freeBase() throws IOException {
        return Ports.free(400) - 20;
    }
}
