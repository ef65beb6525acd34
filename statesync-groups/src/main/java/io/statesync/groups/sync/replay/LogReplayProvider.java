package io.statesync.groups.sync.replay;

import io.statesync.groups.log.Chain;
import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.EntryFrame;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Serves committed entries: {@code GET sync/log/range} (what is held), {@code GET
 * sync/log/entries?from=&to=} (an {@link EntryFrame} of at most one batch, possibly shorter) and
 * {@code GET sync/log/chain?index=} (the chain value there, for a session checking another peer's
 * batch). Only committed entries exist in the committed log, so nothing uncommitted is served.
 */
final class LogReplayProvider implements SyncProvider {
    /** A frame stops growing past this many bytes of entry data. */
    static final long MAX_FRAME_DATA = 8L << 20;
    private final ProviderContext ctx;
    private final int batchSize;

    LogReplayProvider(ProviderContext ctx, int batchSize) {
        this.ctx = ctx;
        this.batchSize = batchSize;
    }

    @Override
    public RouteResponse handle(RouteRequest req) throws RouteException {
        req.requireMethod("GET");
        try {
            return switch (req.route()) {
                case "log/range" -> {
                    CommittedLog log = ctx.log();
                    LogPosition base = log.base();
                    LogPosition last = log.last();
                    yield RouteResponse.json("{\"first\":" + (base.index() + 1) + ",\"last\":" + last.index()
                            + ",\"lastTerm\":" + last.term() + "}");
                }
                case "log/entries" -> {
                    long from = req.longParam("from");
                    long to = req.longParam("to");
                    if (from < 1 || to < from) {
                        throw RouteException.badRequest("bad range " + from + ".." + to);
                    }
                    long cappedTo = Math.min(to, from + batchSize - 1);
                    List<CommittedLog.Stored> stored = ctx.log().read(from, cappedTo, MAX_FRAME_DATA);
                    if (stored.isEmpty() || stored.get(0).entry().index() != from) {
                        LogPosition base = ctx.log().base();
                        throw RouteException.notFound("entries from " + from + " are not held here (held: "
                                + (base.index() + 1) + ".." + ctx.log().last().index() + ")");
                    }
                    yield RouteResponse.binary(EntryFrame.encode(stored));
                }
                case "log/chain" -> {
                    long index = req.longParam("index");
                    Optional<CommittedLog.Point> p = ctx.log().at(index);
                    if (p.isEmpty()) {
                        throw RouteException.notFound("index " + index + " is not held here");
                    }
                    yield RouteResponse.json("{\"index\":" + index + ",\"term\":" + p.get().position().term()
                            + ",\"chain\":\"" + Chain.hex(p.get().chain()) + "\"}");
                }
                default -> throw RouteException.notFound("no sync route " + req.route());
            };
        } catch (IOException e) {
            throw new RouteException(503, "cannot read the committed log: " + e.getMessage());
        }
    }

    @Override
    public long safeToPruneLog() {
        long floor = ctx.leases().logFloor();
        return floor == Long.MAX_VALUE ? Long.MAX_VALUE : floor - 1;
    }
}
