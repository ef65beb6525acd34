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
            c.nodes[0].host.hostKey().sign(c.nodes[0].member.id(), "POST", g.id().toString(), ask)
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
}
