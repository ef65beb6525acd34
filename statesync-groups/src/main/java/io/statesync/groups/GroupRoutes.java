package io.statesync.groups;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.groups.sync.Leases;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.transfer.server.Route;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * A group's HTTP routes under {@code /groups/{id}/} (its store's blobs at {@code ipfs/{cid}} are
 * served by the file share itself):
 * <ul>
 *   <li>{@code GET info}: id, name, type tag, sync signature, member, leader, applied position;</li>
 *   <li>{@code GET members}: the membership as this member holds it (configuration index, whether
 *       it is settled, leader, and each member's id, role, consensus address and HTTP base); a
 *       joining member learns the group from it;</li>
 *   <li>{@code POST leases?session=S&from=I&snapshot=CID&ttlMs=T}: a session's hold on log entries
 *       from {@code I} and/or on a snapshot, for at most {@code T} ms (capped); renew by posting
 *       again; {@code DELETE leases?session=S} releases it;</li>
 *   <li>{@code sync/...}: the sync strategy's provider.</li>
 * </ul>
 */
final class GroupRoutes implements Route {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String groupId;
    private final GroupConfig config;
    private final String typeTag;
    private final SyncProvider provider;
    private final Leases leases;
    private final Replica replica;
    private final Supplier<String> leader;
    /** The running group, or null while it starts. */
    private final Supplier<Group> group;

    GroupRoutes(String groupId, GroupConfig config, String typeTag, SyncProvider provider, Leases leases,
                Replica replica, Supplier<String> leader, Supplier<Group> group) {
        this.group = group;
        this.groupId = groupId;
        this.config = config;
        this.typeTag = typeTag;
        this.provider = provider;
        this.leases = leases;
        this.replica = replica;
        this.leader = leader;
    }

    @Override
    public RouteResponse handle(RouteRequest req) throws RouteException {
        if (!req.path().isEmpty() && req.path().get(0).equals("sync")) {
            return provider.handle(new RouteRequest(req.method(), req.path().subList(1, req.path().size()),
                    req.query()));
        }
        return switch (req.route()) {
            case "info" -> {
                req.requireMethod("GET");
                ObjectNode n = JSON.createObjectNode();
                n.put("id", groupId).put("name", config.name()).put("typeTag", typeTag)
                        .put("sync", config.sync().signature().description()).put("member", config.self())
                        .put("leader", leader.get()).put("appliedIndex", replica.applied().index())
                        .put("appliedTerm", replica.applied().term());
                Group g = group.get();
                if (g != null) {
                    // Where the consensus log starts: a member behind it needs a catch-up to get there.
                    n.put("logStart", g.consensusLogStart());
                }
                yield RouteResponse.json(n.toString());
            }
            case "members" -> {
                req.requireMethod("GET");
                Group g = group.get();
                if (g == null) {
                    throw new RouteException(503, "group " + config.name() + " is starting");
                }
                ObjectNode n = JSON.createObjectNode();
                var members = g.members();
                n.put("stable", g.membershipStable()).put("leader", leader.get())
                        .put("index", g.membershipIndex());
                var list = n.putArray("members");
                members.forEach(m -> list.addObject().put("id", m.id()).put("role", m.role().name())
                        .put("raft", m.raft()).put("http", m.http().toString()).put("index", m.index()));
                yield RouteResponse.json(n.toString());
            }
            case "leases" -> {
                req.requireMethod("POST", "DELETE");
                String session = req.param("session");
                if (!session.matches("[A-Za-z0-9._-]{1,128}")) {
                    throw RouteException.badRequest("session ids are 1-128 of [A-Za-z0-9._-]");
                }
                if (req.method().equals("DELETE")) {
                    leases.release(session);
                    yield RouteResponse.json("{\"released\":true}");
                }
                long from = req.query().containsKey("from") ? req.longParam("from") : -1;
                Cid snapshot = null;
                if (req.query().containsKey("snapshot")) {
                    try {
                        snapshot = Cid.parse(req.param("snapshot"));
                    } catch (CidFormatException e) {
                        throw RouteException.badRequest("malformed snapshot CID: " + e.getMessage());
                    }
                }
                if (from < 0 && snapshot == null) {
                    throw RouteException.badRequest("a lease needs 'from' (a log index) or 'snapshot' (a CID)");
                }
                long ttlMs = req.longParam("ttlMs");
                if (ttlMs < 1) {
                    throw RouteException.badRequest("ttlMs must be positive");
                }
                Duration granted = leases.grant(session, from, snapshot, Duration.ofMillis(ttlMs));
                yield RouteResponse.json("{\"ttlMs\":" + granted.toMillis() + "}");
            }
            default -> throw RouteException.notFound("no group route '" + req.route() + "'");
        };
    }
}
