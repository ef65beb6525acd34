package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Dropping chosen snapshots on a real member: never the newest, never one a peer's session leases. */
@Timeout(120)
class SnapshotDropTest {
    @TempDir
    Path tmp;

    @Test
    void everySnapshotAskedForGoesExceptTheNewestAndALeasedOne() throws Exception {
        // Given a member keeping up to 10 snapshots, with five of them, the oldest leased by a peer
        try (TestCluster c = new TestCluster(tmp, 1, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(10)
                .withRetention(10, 1_000_000)).startAll(); HttpClient http = HttpClient.newHttpClient()) {
            Group g = c.nodes[0].group;
            for (int i = 0; g.snapshots().size() < 5; i++) {
                g.submitBlocking(KvMachine.put("k" + i, new byte[] {(byte) i}));
            }
            List<SnapshotRecord> before = g.snapshots();
            SnapshotRecord leased = before.get(0);
            SnapshotRecord newest = before.getLast();
            String ask = "leases?session=peer-1&snapshot=" + leased.manifest() + "&ttlMs=60000";
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(c.nodes[0].member.http() + "/groups/"
                    + g.id() + "/" + ask)).POST(HttpRequest.BodyPublishers.noBody());
            c.nodes[0].host.hostKey().sign(c.nodes[0].member.id(), c.nodes[0].member.id(), "POST", g.id().toString(), ask)
                    .forEach(request::header);
            HttpResponse<String> lease = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, lease.statusCode(), lease.body());

            // When every snapshot is asked to go
            List<SnapshotRecord> dropped = g.dropSnapshots(r -> true);

            // Then the newest and the leased one stay; the others went, with their manifests
            List<SnapshotRecord> kept = g.snapshots();
            assertTrue(kept.contains(newest), "the newest stays: " + kept);
            assertTrue(kept.contains(leased), "the leased one stays: " + kept);
            assertEquals(before.size() - 2, dropped.size(), "dropped " + dropped);
            for (SnapshotRecord d : dropped) {
                assertFalse(kept.contains(d));
                assertFalse(g.store().has(d.manifest()), "blobs of " + d + " deleted");
            }
            assertTrue(g.store().has(leased.manifest()) && g.store().has(newest.manifest()));
        }
    }

    @Test
    void aHoldKeepsTheBlobsOfSnapshotsDroppedMeanwhileUntilItIsClosed() throws Exception {
        // A fetch outside a catch-up session (an operator's load) holds the blobs itself.
        try (TestCluster c = new TestCluster(tmp, 1, SnapshotSync.DEFAULT, cfg -> cfg.withSnapshotEvery(10)
                .withRetention(10, 1_000_000)).startAll()) {
            Group g = c.nodes[0].group;
            for (int i = 0; g.snapshots().size() < 3; i++) {
                g.submitBlocking(KvMachine.put("k" + i, new byte[] {(byte) i}));
            }
            SnapshotRecord oldest = g.snapshots().get(0);

            Group.BlobHold hold = g.holdDroppedBlobs();
            assertEquals(List.of(oldest), g.dropSnapshots(r -> r.equals(oldest)));
            assertFalse(g.snapshots().contains(oldest), "out of the catalog at once");
            assertTrue(g.store().has(oldest.manifest()), "its blobs stay while the hold is open");

            hold.close();
            assertFalse(g.store().has(oldest.manifest()), "and go when it closes");
            hold.close(); // a second close changes nothing
        }
    }

    @Test
    void theBlobsOfASnapshotDroppedDuringACatchUpSessionStayUntilItEnds() throws Exception {
        // A running fetch counts chunks already in the store as present; deleting them under it made
        // the install fail (issue 4's review, item d).
        GroupConfig config = GroupConfig.of("test", "n0", new TestCluster(tmp, 1, SnapshotSync.DEFAULT, c -> c).members,
                tmp.resolve("data"), SnapshotSync.DEFAULT).withSnapshotEvery(10).withRetention(5, 1_000_000);
        try (Replica replica = Replica.open("0123456789abcdef", config, new KvMachine(), tmp.resolve("g"),
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry())) {
            for (long i = 1; i <= 30; i++) {
                replica.apply(new io.statesync.groups.log.LogEntry(i, 1, io.statesync.groups.log.LogEntry.Kind.COMMAND,
                        KvMachine.put("k" + i, "v" + i)));
            }
            SnapshotRecord first = replica.snapshots().get(0);
            SnapshotRecord second = replica.snapshots().get(1);
            assertEquals(List.of(10L, 20L, 30L), replica.snapshots().stream().map(SnapshotRecord::index).toList());

            replica.sessionOpened();
            assertEquals(List.of(first), replica.drop(r -> r.index() == 10));
            assertFalse(replica.snapshots().contains(first), "out of the catalog at once");
            assertTrue(replica.store().has(first.manifest()), "its blobs stay while the session runs");
            replica.sessionClosed();
            assertFalse(replica.store().has(first.manifest()), "and go when it ends");

            // Without a session they go at once
            replica.drop(r -> r.index() == 20);
            assertFalse(replica.store().has(second.manifest()));
        }
    }
}
