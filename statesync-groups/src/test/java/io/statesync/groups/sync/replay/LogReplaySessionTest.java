package io.statesync.groups.sync.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.CommittedLog;
import io.statesync.groups.log.EntryFrame;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.log.LogPosition;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.FailedOffers;
import io.statesync.groups.sync.Peer;
import io.statesync.groups.sync.PeerClient;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.SyncMetrics;
import io.statesync.groups.sync.SyncProgress;
import io.statesync.transfer.fetch.SnapshotFetcher;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A replay session against a peer serving a real log over HTTP on loopback, with a lagging member
 * whose state another applier (Ratis's updater, on a real member) also advances while the session
 * runs.
 */
class LogReplaySessionTest {
    private static final String GROUP = "0123456789abcdef";
    private static final int ENTRIES = 30;

    private final List<CommittedLog.Stored> log = new ArrayList<>();
    private HttpServer peer;
    private PeerClient client;
    private SyncMetrics metrics;

    @BeforeEach
    void serveALog() throws IOException {
        byte[] chain = Chain.GENESIS;
        for (long i = 1; i <= ENTRIES; i++) {
            LogEntry e = new LogEntry(i, 1, LogEntry.Kind.COMMAND, ("put k" + i).getBytes(StandardCharsets.UTF_8));
            chain = Chain.next(chain, e);
            log.add(new CommittedLog.Stored(e, chain));
        }
        peer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        peer.createContext("/groups/" + GROUP + "/", this::answer);
        peer.start();
        client = new PeerClient(GROUP, Duration.ofSeconds(2));
        metrics = new SyncMetrics(new SimpleMeterRegistry(), GROUP, "log-replay", () -> 0);
    }

    @AfterEach
    void stop() {
        metrics.close();
        client.close();
        peer.stop(0);
    }

    /**
     * Issue 4's review, item b. The session checks each batch from the position it holds and the
     * chain value there. Read one after the other, an entry applied between the two readings made
     * the chain a later one's, and an honest peer's batch looked forged: the peer was banned and
     * the replay failed. Here the other applier steps in between any two separate readings (and
     * before each combined one, so batches overlap what is already applied).
     */
    @Test
    void entriesAppliedByAnotherApplierDuringTheReplayNeverMakeAnHonestPeerLookForged() throws Exception {
        Lagging member = new Lagging();

        LogPosition reached = LogReplaySync.DEFAULT.withBatchSize(5).session(member).run();

        assertEquals(log.getLast().entry().position(), reached);
        assertArrayEquals(log.getLast().chain(), member.appliedNow().chain());
        assertTrue(member.appliedByOther > 0, "the other applier ran during the replay");
        assertTrue(member.appliedBySession > 0, "the session applied entries too");
        assertEquals(ENTRIES, member.appliedByOther + member.appliedBySession);
    }

    private void answer(HttpExchange x) throws IOException {
        String path = x.getRequestURI().getPath().substring(("/groups/" + GROUP + "/").length());
        Map<String, String> query = new HashMap<>();
        String raw = x.getRequestURI().getRawQuery();
        for (String kv : raw == null ? new String[0] : raw.split("&")) {
            String[] p = kv.split("=", 2);
            query.put(p[0], p.length > 1 ? p[1] : "");
        }
        byte[] body = switch (path) {
            case "sync/log/range" -> ("{\"first\":1,\"last\":" + ENTRIES + "}").getBytes(StandardCharsets.UTF_8);
            case "sync/log/entries" -> EntryFrame.encode(log.subList(Integer.parseInt(query.get("from")) - 1,
                    Integer.parseInt(query.get("to"))));
            case "sync/log/chain" -> ("{\"chain\":\"" + Chain.hex(log.get(Integer.parseInt(query.get("index")) - 1)
                    .chain()) + "\"}").getBytes(StandardCharsets.UTF_8);
            case "leases" -> "{}".getBytes(StandardCharsets.UTF_8);
            default -> null;
        };
        x.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
        if (body != null) {
            x.getResponseBody().write(body);
        }
        x.close();
    }

    /** The lagging member: empty at the start, its state advanced by the session and by another applier. */
    private final class Lagging implements SessionContext {
        private LogPosition position = LogPosition.ORIGIN;
        private byte[] chain = Chain.GENESIS;
        int appliedByOther;
        int appliedBySession;

        /** The other applier's step: the next committed entry, if any is left. */
        private synchronized void otherApplierStep() {
            if (position.index() < ENTRIES) {
                CommittedLog.Stored next = log.get((int) position.index());
                position = next.entry().position();
                chain = next.chain();
                appliedByOther++;
            }
        }

        @Override
        public synchronized LogPosition applied() {
            return position;
        }

        @Override
        public byte[] appliedChain() {
            // A separate reading: the other applier may have moved on since applied() was read.
            otherApplierStep();
            synchronized (this) {
                return chain.clone();
            }
        }

        @Override
        public Applied appliedNow() {
            otherApplierStep();
            synchronized (this) {
                return new Applied(position, chain.clone());
            }
        }

        @Override
        public synchronized void apply(LogEntry entry) {
            if (entry.index() <= position.index()) {
                return; // applied already, as a replica ignores it
            }
            if (entry.index() != position.index() + 1) {
                throw new IllegalStateException("entry " + entry.index() + " after " + position.index());
            }
            chain = Chain.next(chain, entry);
            position = entry.position();
            appliedBySession++;
        }

        @Override
        public String groupId() {
            return GROUP;
        }

        @Override
        public String memberId() {
            return "n0";
        }

        @Override
        public String sessionId() {
            return "n0-test";
        }

        @Override
        public LogPosition target() {
            return new LogPosition(1, ENTRIES + 1);
        }

        @Override
        public boolean logEmptyPastState() {
            return true;
        }

        @Override
        public List<Peer> peers() {
            return List.of(new Peer("n1", URI.create("http://127.0.0.1:" + peer.getAddress().getPort()), true));
        }

        @Override
        public PeerClient client() {
            return client;
        }

        @Override
        public SyncMetrics metrics() {
            return metrics;
        }

        @Override
        public Instant deadline() {
            return Instant.now().plus(Duration.ofMinutes(1));
        }

        @Override
        public void progress(SyncProgress progress) {
        }

        @Override
        public void install(SnapshotRecord snapshot) {
            throw new UnsupportedOperationException("a log replay installs no snapshot");
        }

        @Override
        public ContentStore store() {
            throw new UnsupportedOperationException("a log replay uses no store");
        }

        @Override
        public SnapshotFetcher fetcher() {
            throw new UnsupportedOperationException("a log replay fetches no chunks");
        }

        @Override
        public FailedOffers failedOffers() {
            throw new UnsupportedOperationException("a log replay has no offers");
        }
    }
}
