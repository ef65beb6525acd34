package io.statesync.groups;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.groups.sync.RequestSigning;
import io.statesync.groups.sync.SyncSignature;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteResponse;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The groups one node hosts, on the node's HTTP server. It answers {@code GET /groups} (the groups
 * hosted here: name, id, type tag, sync signature; and this host's public key), which is how a
 * member that derives a different id for a group name learns why before it starts, and how other
 * members check what this host's members sign ({@link RequestSigning}). Close it to close every
 * group.
 */
public final class GroupHost implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GroupHost.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most a peer's list of its groups may take, read in the join check. */
    private static final int MAX_GROUPS_ANSWER = 1 << 20;

    private final FileShareServer http;
    private final MeterRegistry registry;
    private final AutoCloseable directory;
    private final Map<String, Hosted> groups = new ConcurrentHashMap<>();
    /** Signs what this host's members ask of others; made at start, so a restart brings a new one. */
    private final RequestSigning.HostKey key = RequestSigning.HostKey.generate();
    private final MemberRequests memberRequests;

    private record Hosted(Group group, String typeTag, SyncSignature sync) {
    }

    /** Trust and certificate for talking to other members over https; null for the JDK's defaults. */
    private final Tls tls;

    private GroupHost(FileShareServer http, MeterRegistry registry, Tls tls) {
        this.http = http;
        this.registry = registry;
        this.tls = tls;
        this.memberRequests = new MemberRequests(registry, tls);
        this.directory = http.mount("groups", null, req -> {
            if (!req.path().isEmpty()) {
                throw RouteException.notFound("this node hosts no group '" + req.path().get(0) + "'");
            }
            req.requireMethod("GET");
            ObjectNode root = JSON.createObjectNode().put("hostKey", key.publicText());
            ArrayNode list = root.putArray("groups");
            groups.values().forEach(h -> list.addObject().put("name", h.group().name())
                    .put("id", h.group().id().toString()).put("typeTag", h.typeTag())
                    .put("sync", h.sync().description()));
            return RouteResponse.json(root.toString());
        });
    }

    /** Hosts groups on {@code http}; meters go to {@code registry}. */
    public static GroupHost on(FileShareServer http, MeterRegistry registry) {
        return new GroupHost(http, registry, null);
    }

    /**
     * Hosts groups on {@code http}, talking to other members' https URLs with {@code tls}: its CA
     * bundle checks them, and its certificate answers a member that asks for one (mTLS).
     */
    public static GroupHost on(FileShareServer http, MeterRegistry registry, Tls tls) {
        return new GroupHost(http, registry, tls);
    }

    /**
     * Joins a group as {@code config.self()}. Peers that answer are asked first what they host
     * under the same name; if one derives another id, the member cannot join and is told why.
     *
     * @throws GroupMismatchException if a peer hosts the group with another type tag or sync
     */
    public Group start(GroupConfig config, StateMachine machine) throws IOException, GroupMismatchException {
        GroupId id = GroupId.derive(config.name(), machine.typeTag(), config.sync().signature());
        checkPeers(config, id, machine.typeTag());
        String key = id.toString();
        if (groups.containsKey(key)) {
            throw new IllegalStateException("group " + config.name() + " is already hosted here");
        }
        Group g = Group.start(config, machine, http, registry, this.key, memberRequests, tls,
                () -> groups.remove(key));
        groups.put(key, new Hosted(g, machine.typeTag(), config.sync().signature()));
        return g;
    }

    private void checkPeers(GroupConfig config, GroupId id, String typeTag) throws GroupMismatchException {
        List<String> mismatches = new ArrayList<>();
        try (ExecutorService ex = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("statesync-group-join-", 0).factory());
             HttpClient client = Tls.httpClient(tls).executor(ex).connectTimeout(Duration.ofSeconds(2)).build()) {
            Map<String, URI> ask = new java.util.LinkedHashMap<>();
            config.members().stream().filter(m -> !m.id().equals(config.self())).forEach(m -> ask.put(m.id(), m.http()));
            config.joinVia().forEach(u -> ask.put(u.toString(), u));
            for (Map.Entry<String, URI> m : ask.entrySet()) {
                JsonNode hosted;
                try {
                    URI uri = URI.create(m.getValue().toString().replaceAll("/+$", "") + "/groups");
                    HttpResponse<byte[]> res = BoundedCall.send(client, HttpRequest.newBuilder(uri)
                            .timeout(Duration.ofSeconds(3)).GET().build(), MAX_GROUPS_ANSWER);
                    if (res.statusCode() != 200) {
                        continue;
                    }
                    hosted = JSON.readTree(res.body());
                } catch (IOException e) {
                    log.debug("group {}: peer {} not reachable for the join check: {}", config.name(), m.getKey(),
                            e.toString());
                    continue;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                for (JsonNode g : hosted.path("groups")) {
                    if (g.path("name").asText().equals(config.name()) && !g.path("id").asText().equals(id.toString())) {
                        List<String> diffs = new ArrayList<>();
                        if (!g.path("typeTag").asText().equals(typeTag)) {
                            diffs.add("state machine type '" + g.path("typeTag").asText() + "' there, '" + typeTag
                                    + "' here");
                        }
                        if (!g.path("sync").asText().equals(config.sync().signature().description())) {
                            diffs.add("sync " + g.path("sync").asText() + " there, " + config.sync().signature()
                                    + " here");
                        }
                        mismatches.add("peer " + m.getKey() + " hosts it as " + g.path("id").asText() + " ("
                                + String.join("; ", diffs) + ")");
                    }
                }
            }
        }
        if (!mismatches.isEmpty()) {
            throw new GroupMismatchException("cannot join group '" + config.name() + "' as " + id + ": "
                    + String.join("; ", mismatches));
        }
    }

    /** The key this host's members sign with (tests sign as a member with it). */
    RequestSigning.HostKey hostKey() {
        return key;
    }

    /** The groups hosted now. */
    public List<Group> groups() {
        return groups.values().stream().map(Hosted::group).toList();
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (Hosted h : List.copyOf(groups.values())) {
            try {
                h.group().close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        memberRequests.close();
        try {
            directory.close();
        } catch (Exception e) {
            throw new IOException(e);
        }
        if (first != null) {
            throw first;
        }
    }
}
