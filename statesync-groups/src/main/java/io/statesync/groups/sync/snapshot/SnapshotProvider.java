package io.statesync.groups.sync.snapshot;

import io.statesync.groups.log.Chain;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;

/**
 * Offers this member's snapshots ({@code GET sync/snapshots}); their manifests and chunks are
 * served from the group's store at {@code /groups/{id}/ipfs/{cid}}. A snapshot a session holds a
 * lease on is not dropped.
 */
final class SnapshotProvider implements SyncProvider {
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
            new com.fasterxml.jackson.databind.ObjectMapper();
    private final ProviderContext ctx;

    SnapshotProvider(ProviderContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public RouteResponse handle(RouteRequest req) throws RouteException {
        req.requireMethod("GET");
        if (!req.route().equals("snapshots")) {
            throw RouteException.notFound("no sync route " + req.route());
        }
        com.fasterxml.jackson.databind.node.ObjectNode root = JSON.createObjectNode();
        com.fasterxml.jackson.databind.node.ArrayNode list = root.putArray("snapshots");
        for (SnapshotRecord r : ctx.snapshots()) {
            com.fasterxml.jackson.databind.node.ObjectNode n = list.addObject()
                    .put("manifest", r.manifest().toString()).put("term", r.position().term())
                    .put("index", r.index()).put("chain", Chain.hex(r.chain()));
            // The machine's own description (block id, height, ...), for strategies built on this one.
            r.metadata().forEach(n.putObject("metadata")::put);
        }
        return RouteResponse.json(root.toString());
    }

    @Override
    public boolean maySnapshotBeDropped(SnapshotRecord snapshot) {
        return !ctx.leases().pins(snapshot.manifest());
    }
}
