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
 *       again; {@code DELETE leases?session=S} releases it. Only a member asks, in a request it
 *       signed ({@link io.statesync.groups.sync.RequestSigning}): 401 unsigned or not verified,
 *       403 not a member; a member renews and releases only its own leases, and 429 answers a
 *       new lease beyond the bounds of {@link Leases};</li>
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
    private final Consensus consensus;
    private final MemberRequests memberRequests;

    GroupRoutes(String groupId, GroupConfig config, String typeTag, SyncProvider provider, Leases leases,
                Replica replica, Consensus consensus, MemberRequests memberRequests) {
        this.consensus = consensus;
        this.memberRequests = memberRequests;
        this.groupId = groupId;
        this.config = config;
        this.typeTag = typeTag;
        this.provider = provider;
        this.leases = leases;
        this.replica = replica;
    }

    @Override
    public RouteResponse handle(RouteRequest req) throws RouteException {
        if (!req.path().isEmpty() && req.path().get(0).equals("sync")) {
            return provider.handle(req.withPath(req.path().subList(1, req.path().size())));
        }
        return switch (req.route()) {
            case "info" -> {
                req.requireMethod("GET");
                ObjectNode n = JSON.createObjectNode();
                n.put("id", groupId).put("name", config.name()).put("typeTag", typeTag)
                        .put("sync", config.sync().signature().description()).put("member", config.self())
                        .put("leader", consensus.leader()).put("appliedIndex", replica.applied().index())
                        .put("appliedTerm", replica.applied().term())
                        .put("snapshotIndex", replica.latestSnapshot().map(s -> s.index()).orElse(-1L));
                try {
                    // Where the consensus log starts: a member behind it needs a catch-up to get there.
                    n.put("logStart", consensus.division().getRaftLog().getStartIndex() + 1);
                } catch (java.io.IOException | RuntimeException e) {
                    // Consensus is not running (starting, or restarting): the log start is not known.
                }
                yield RouteResponse.json(n.toString());
            }
            case "members" -> {
                req.requireMethod("GET");
                MemberChanges.Conf conf = consensus.conf();
                if (conf.all().isEmpty()) {
                    throw new RouteException(503, "group " + config.name() + ": consensus is not running here");
                }
                ObjectNode n = JSON.createObjectNode();
                n.put("stable", conf.stable()).put("leader", consensus.leader()).put("index", conf.index());
                var list = n.putArray("members");
                for (GroupMember m : conf.all()) {
                    list.addObject().put("id", m.id())
                            .put("role", conf.listeners().contains(m) ? "LISTENER" : "FOLLOWER")
                            .put("raft", m.raftAddress()).put("http", m.http().toString());
                }
                yield RouteResponse.json(n.toString());
            }
            case "leases" -> {
                req.requireMethod("POST", "DELETE");
                String session = req.param("session");
                if (!session.matches("[A-Za-z0-9._-]{1,128}")) {
                    throw RouteException.badRequest("session ids are 1-128 of [A-Za-z0-9._-]");
                }
                if (req.method().equals("DELETE")) {
                    boolean released = leases.release(caller(req), session);
                    yield RouteResponse.json("{\"released\":" + released + "}");
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
                String owner = caller(req);
                try {
                    Duration granted = leases.grant(owner, session, from, snapshot, Duration.ofMillis(ttlMs));
                    yield RouteResponse.json("{\"ttlMs\":" + granted.toMillis() + "}");
                } catch (Leases.LimitException e) {
                    memberRequests.refusedForLimit();
                    throw new RouteException(429, e.getMessage());
                }
            }
            default -> throw RouteException.notFound("no group route '" + req.route() + "'");
        };
    }

    /** The member that signed the request; checked after the parameters, so a malformed one is a 400 first. */
    private String caller(RouteRequest req) throws RouteException {
        MemberChanges.Conf conf = consensus.conf();
        if (conf.all().isEmpty()) {
            throw new RouteException(503, "group " + config.name() + ": consensus is not running here");
        }
        return memberRequests.signer(groupId, config.self(), req, conf.all());
    }
}
