package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.discovery.card.NodeId;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The gossip keys of a cluster's members, learned as the nodes learn them from each other: the
 * membership from one node ({@code GET /node/cluster}), then each member's own answer at the URL
 * the membership holds for it ({@code GET /node/identity}), which must name that member. A card's
 * own URLs are never asked: anyone can sign a card that names a member's URL.
 */
final class ClusterKeys {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    private ClusterKeys() {
    }

    /** The node ids of the members of {@code node}'s cluster that answered; fails if {@code node} does not. */
    static Set<NodeId> of(URI node) throws CommandFailure, InterruptedException {
        return of(node, null);
    }

    /** As {@link #of(URI)}, reaching https nodes with {@code tls}'s trust and certificate (null: the JDK's). */
    static Set<NodeId> of(URI node, Tls tls) throws CommandFailure, InterruptedException {
        Set<NodeId> ids = new LinkedHashSet<>();
        try (HttpClient http = Tls.httpClient(tls).connectTimeout(TIMEOUT).build()) {
            JsonNode cluster;
            try {
                cluster = ClusterConfigs.cluster(http, node);
            } catch (IOException e) {
                throw new CommandFailure("cannot ask --node " + node + " for its cluster: " + Failures.describeIo(e), e);
            }
            for (JsonNode m : cluster.path("members")) {
                String id = m.path("id").asText();
                try {
                    URI base = URI.create(m.path("http").asText().replaceAll("/+$", ""));
                    HttpResponse<byte[]> res = BoundedCall.send(http, HttpRequest.newBuilder(
                            URI.create(base + "/node/identity")).timeout(TIMEOUT).GET().build(), 64 * 1024);
                    JsonNode answer = res.statusCode() == 200 ? JSON.readTree(res.body()) : null;
                    if (answer != null && answer.path("member").asText().equals(id) && answer.hasNonNull("nodeId")) {
                        ids.add(new NodeId(answer.path("nodeId").asText()));
                    }
                } catch (IOException | IllegalArgumentException e) {
                    // A member that does not answer (or not as itself) is not trusted; the others are.
                }
            }
        }
        return ids;
    }
}
