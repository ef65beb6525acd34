package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.statesync.core.testing.Await;
import io.statesync.node.ledger.ThreadId;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node killed (SIGKILL) in the middle of loading its state, then restarted on the same data
 * directory, resumes: the chunks it had verified and stored are not downloaded again. Separate
 * node processes; the peers serve at a capped rate so that the load takes long enough to be cut.
 */
class NodeCrashTest {
    private static final ThreadId T0 = new ThreadId("t0");

    @TempDir
    Path dir;

    @Test
    void aNodeKilledMidLoadResumesAfterARestartWithoutFetchingItsChunksAgain() throws Exception {
        try (DemoCluster cluster = DemoCluster.configure(dir, 4, 1, 10, 3L << 20)) {
            List<DemoCluster.NodeSpec> running = cluster.specs().subList(0, 3);
            DemoCluster.NodeSpec joiner = cluster.specs().get(3);
            for (DemoCluster.NodeSpec s : running) {
                cluster.launch(s, "256m");
            }
            Await.until("a leader of t0", Duration.ofSeconds(60),
                    () -> running.stream().anyMatch(s -> "LEADER".equals(t0(cluster, s).path("role").asText())));
            long total;
            try (DemoLoad load = new DemoLoad(cluster, running, List.of(T0), 4)) {
                load.fund();
                load.start();
                load.mode(DemoLoad.Mode.FILL);
                Await.until("n1 holds over 24 MiB of t0 state", Duration.ofSeconds(120),
                        () -> t0(cluster, running.get(0)).path("stateBytes").asLong() > 24L << 20);
                // No more writes: later saves hold the same accounts, so their chunks are the same.
                load.mode(DemoLoad.Mode.STOP);
            }
            long idle = t0(cluster, running.get(0)).path("height").asLong();
            Await.until("every running node saved twice past the idle height", Duration.ofSeconds(120),
                    () -> running.stream().allMatch(s -> t0(cluster, s).path("latestSnapshotIndex").asLong()
                            > 2 * (idle + 20)));

            cluster.launch(joiner, "256m");
            Await.until("the joiner loaded over a quarter of its state", Duration.ofSeconds(120), () -> {
                JsonNode p = t0(cluster, joiner).path("syncProgress");
                return p.path("total").asLong() > 0 && p.path("done").asLong() > p.path("total").asLong() / 4;
            });
            total = t0(cluster, joiner).path("syncProgress").path("total").asLong();
            cluster.kill(joiner);

            cluster.launch(joiner, "256m");
            long target = t0(cluster, running.get(0)).path("height").asLong();
            Await.until("the restarted joiner caught up", Duration.ofSeconds(120), () -> {
                JsonNode s = t0(cluster, joiner);
                return !s.path("catchingUp").asBoolean(true) && s.path("height").asLong() >= target;
            });

            double fetchedAfterRestart = metric(cluster, joiner, "statesync_node_state_load_fetched_bytes_total");
            assertTrue(fetchedAfterRestart > 0, "the restarted node loaded the rest");
            assertTrue(fetchedAfterRestart < 0.8 * total, "resumed: fetched " + fetchedAfterRestart + " of "
                    + total + " bytes after the restart");
            assertEquals(t0(cluster, running.get(0)).path("stateBytes").asLong() > 0, true);
        }
    }

    private static JsonNode t0(DemoCluster cluster, DemoCluster.NodeSpec s) {
        JsonNode st = cluster.status(s).orElse(null);
        if (st != null) {
            for (JsonNode t : st.path("threads")) {
                if (t.path("thread").asText().equals("t0")) {
                    return t;
                }
            }
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }

    private static double metric(DemoCluster cluster, DemoCluster.NodeSpec s, String name) throws Exception {
        String text = cluster.http().send(HttpRequest.newBuilder(s.url().resolve("/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return text.lines().filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
