package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.transfer.http.BoundedCall;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Node configuration files as {@code statesync init} and the demo write them: the founders of a
 * new cluster (every founder lists every founder), or a node that joins a running cluster (it
 * lists running nodes to join through and learns the rest from them).
 */
final class ClusterConfigs {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ClusterConfigs() {
    }

    /**
     * Where one node listens.
     *
     * @param dataDir the data directory as written in the file (relative to the file's directory)
     * @param raftBase the consensus port of thread 0; thread i uses raftBase + i
     * @param adminPort the admin API's port, on 127.0.0.1
     */
    record Plan(String id, String host, int httpPort, int gossipPort, int raftBase, int adminPort, String dataDir) {
        URI url() {
            return URI.create("http://" + host + ":" + httpPort);
        }

        URI adminUrl() {
            return URI.create("http://127.0.0.1:" + adminPort);
        }
    }

    /**
     * Settings every founder shares.
     *
     * @param producer the {@code producer:} section's lines (indented), without saveStateEvery
     * @param genesis the {@code genesis:} section's lines (indented)
     * @param sync the {@code sync:} section's lines (indented), or empty
     */
    record Shared(List<String> threads, long saveStateEvery, long rateLimit, String producer, String genesis,
                  String sync) {
    }

    /** The configuration of founder {@code self} of a cluster founded by {@code founders}. */
    static String founder(String header, Plan self, List<Plan> founders, Shared shared) {
        StringBuilder y = new StringBuilder(header);
        node(y, self, shared, null);
        gossip(y, self.host(), self.gossipPort(), founders.stream().filter(p -> p != self)
                .map(p -> p.host() + ":" + p.gossipPort()).toList());
        threads(y, shared.threads());
        y.append("members:\n");
        for (Plan p : founders) {
            y.append("  - id: ").append(p.id()).append('\n')
                    .append("    http: ").append(p.url()).append('\n')
                    .append("    raft: ").append(p.host()).append(':').append(p.raftBase()).append('\n');
        }
        rest(y, shared);
        return y.toString();
    }

    /**
     * The configuration of a node that joins a running cluster, from what a running node told
     * ({@code GET /node/cluster}, see {@link #cluster}): the same threads, genesis and block
     * settings, every running member as a node to join through, and that node's gossip address.
     */
    static String joiner(String header, Plan self, URI via, JsonNode cluster, long rateLimit, String sync) {
        List<String> threads = new ArrayList<>();
        cluster.path("threads").forEach(t -> threads.add(t.asText()));
        StringBuilder producer = new StringBuilder();
        for (Iterator<Map.Entry<String, JsonNode>> it = cluster.path("producer").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            producer.append("  ").append(e.getKey()).append(": ").append(e.getValue().asText()).append('\n');
        }
        // Every genesis balance, the faucet's included, as a plain account: the joiner derives the
        // same first block without knowing how the founders wrote theirs.
        StringBuilder genesis = new StringBuilder("  faucetBalance: 0\n  accounts:\n");
        for (Iterator<Map.Entry<String, JsonNode>> it = cluster.path("genesis").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            genesis.append("    \"").append(e.getKey()).append("\": ").append(e.getValue().asLong()).append('\n');
        }
        Shared shared = new Shared(threads, cluster.path("saveStateEvery").asLong(100), rateLimit, producer.toString(),
                genesis.toString(), sync);
        List<String> join = new ArrayList<>();
        join.add(via.toString());
        cluster.path("members").forEach(m -> {
            String u = m.path("http").asText();
            if (!join.contains(u) && !m.path("id").asText().equals(self.id())) {
                join.add(u);
            }
        });
        StringBuilder y = new StringBuilder(header);
        node(y, self, shared, self.host() + ":" + self.raftBase());
        List<String> seeds = cluster.hasNonNull("gossip") ? List.of(cluster.path("gossip").asText()) : List.of();
        gossip(y, self.host(), seeds.isEmpty() ? 0 : self.gossipPort(), seeds);
        threads(y, threads);
        y.append("join: [").append(String.join(", ", join)).append("]\n");
        rest(y, shared);
        return y.toString();
    }

    /** Asks a running node what a joiner needs to know ({@code GET /node/cluster}). */
    static JsonNode cluster(HttpClient client, URI node) throws IOException, InterruptedException {
        URI uri = URI.create(node.toString().replaceAll("/+$", "") + "/node/cluster");
        HttpResponse<byte[]> res = BoundedCall.send(client, HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                .GET().build(), 4 << 20);
        if (res.statusCode() != 200) {
            throw new IOException(uri + " answered " + res.statusCode() + ": "
                    + new String(res.body(), java.nio.charset.StandardCharsets.UTF_8).strip());
        }
        return JSON.readTree(res.body());
    }

    private static void node(StringBuilder y, Plan self, Shared shared, String raft) {
        y.append("node:\n  id: ").append(self.id()).append("\n  dataDir: ").append(self.dataDir()).append('\n');
        if (raft != null) {
            y.append("  raft: ").append(raft).append("        # consensus port of thread 0; thread i uses port + i\n");
        }
        y.append("http:\n  host: ").append(self.host()).append("\n  port: ").append(self.httpPort()).append('\n');
        if (shared.rateLimit() > 0) {
            y.append("  rateLimit: ").append(shared.rateLimit()).append('\n');
        }
        y.append("admin:\n  port: ").append(self.adminPort())
                .append("        # the operator's API, on 127.0.0.1 only; see docs/node-config.md to open it\n");
    }

    private static void gossip(StringBuilder y, String host, int port, List<String> seeds) {
        if (port == 0) {
            return;
        }
        boolean oneMachine = host.startsWith("127.") || host.equals("localhost") || host.equals("::1");
        y.append("gossip:\n  port: ").append(port).append("\n  seeds: [").append(String.join(", ", seeds))
                .append("]\n  profile: ").append(oneMachine ? "loopback" : "lan")
                .append("        # loopback | lan | wan: how fast a dead node is noticed\n");
    }

    private static void threads(StringBuilder y, List<String> threads) {
        y.append("threads: [").append(String.join(", ", threads)).append("]\n");
    }

    private static void rest(StringBuilder y, Shared shared) {
        y.append("producer:\n").append(shared.producer()).append("  saveStateEvery: ").append(shared.saveStateEvery())
                .append('\n');
        if (!shared.sync().isEmpty()) {
            y.append("sync:\n").append(shared.sync());
        }
        y.append("genesis:\n").append(shared.genesis());
    }
}
