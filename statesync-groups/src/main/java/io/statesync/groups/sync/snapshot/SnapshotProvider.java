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
        StringBuilder b = new StringBuilder("{\"snapshots\":[");
        boolean first = true;
        for (SnapshotRecord r : ctx.snapshots()) {
            b.append(first ? "" : ",").append("{\"manifest\":\"").append(r.manifest()).append("\",\"term\":")
                    .append(r.position().term()).append(",\"index\":").append(r.index()).append(",\"chain\":\"")
                    .append(Chain.hex(r.chain())).append("\"}");
            first = false;
        }
        return RouteResponse.json(b.append("]}").toString());
    }

    @Override
    public boolean maySnapshotBeDropped(SnapshotRecord snapshot) {
        return !ctx.leases().pins(snapshot.manifest());
    }
}
