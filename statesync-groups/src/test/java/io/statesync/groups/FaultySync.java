package io.statesync.groups;

import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.EntryFrame;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.sync.ProviderContext;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.SyncProvider;
import io.statesync.groups.sync.SyncSession;
import io.statesync.groups.sync.SyncSignature;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real strategy whose provider on one member can be switched to misbehave: answer 503, answer
 * slowly, or alter the entries it serves. The signature is the real one, so it joins real groups.
 */
final class FaultySync implements StateSync {
    enum Mode { NORMAL, DOWN, SLOW, CORRUPT_ENTRIES, WRONG_RANGE }

    final StateSync inner;
    volatile Mode mode = Mode.NORMAL;
    final AtomicInteger served = new AtomicInteger();

    FaultySync(StateSync inner) {
        this.inner = inner;
    }

    @Override
    public SyncSignature signature() {
        return inner.signature();
    }

    @Override
    public SyncSession session(SessionContext context) {
        return inner.session(context);
    }

    @Override
    public SyncProvider provider(ProviderContext context) {
        SyncProvider real = inner.provider(context);
        return new SyncProvider() {
            @Override
            public RouteResponse handle(RouteRequest request) throws RouteException {
                Mode m = mode;
                if (m == Mode.DOWN) {
                    throw new RouteException(503, "provider switched off by the test");
                }
                if (m == Mode.SLOW) {
                    try {
                        Thread.sleep(150);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                RouteResponse r = real.handle(request);
                served.incrementAndGet();
                if (request.route().equals("log/entries") && (m == Mode.CORRUPT_ENTRIES || m == Mode.WRONG_RANGE)) {
                    return RouteResponse.binary(tamper(r.body(), m));
                }
                return r;
            }

            @Override
            public long safeToPruneLog() {
                return real.safeToPruneLog();
            }

            @Override
            public boolean maySnapshotBeDropped(SnapshotRecord snapshot) {
                return real.maySnapshotBeDropped(snapshot);
            }
        };
    }

    private static byte[] tamper(byte[] frameBytes, Mode m) {
        try {
            EntryFrame f = EntryFrame.decode(frameBytes, Integer.MAX_VALUE);
            List<CommittedLog.Stored> out = new ArrayList<>();
            for (LogEntry e : f.entries()) {
                LogEntry x = e;
                if (m == Mode.CORRUPT_ENTRIES && e.kind() == LogEntry.Kind.COMMAND && e.data().length > 3) {
                    byte[] d = e.data().clone();
                    d[d.length - 1] ^= 1;
                    x = new LogEntry(e.index(), e.term(), e.kind(), d);
                } else if (m == Mode.WRONG_RANGE) {
                    x = new LogEntry(e.index() + 1, e.term(), e.kind(), e.data());
                }
                out.add(new CommittedLog.Stored(x, f.claimedChain()));
            }
            return EntryFrame.encode(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
