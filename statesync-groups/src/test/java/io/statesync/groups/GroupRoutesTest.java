package io.statesync.groups;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.EntryFrame;
import io.statesync.groups.log.LogEntry;
import io.statesync.groups.snapshot.SnapshotRecord;
import io.statesync.groups.sync.RequestSigning;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A group's HTTP routes on a real one-member group over loopback: what they answer, and every bad
 * request refused with a 4xx and its reason.
 */
class GroupRoutesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    /** Entries per frame the group serves: small, so a frame is cut short by the batch as well as by the log's end. */
    private static final int BATCH = 4;
    private static final String ANY_CID = Cid.compute(Codec.DAG_JSON, "x".getBytes(UTF_8)).toString();

    record Answer(int status, byte[] body) {
        String text() {
            return new String(body, UTF_8);
        }

        JsonNode json() throws IOException {
            return JSON.readTree(body);
        }
    }

    static Answer send(String method, URI uri) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<byte[]> res = HTTP.send(req, HttpResponse.BodyHandlers.ofByteArray());
        return new Answer(res.statusCode(), res.body());
    }

    /** Asserts the status and that the one-line reason contains {@code reason}. */
    static void assertRefused(int status, String reason, Answer a) {
        assertEquals(status, a.status(), a.text());
        assertTrue(a.text().contains(reason), "'" + a.text() + "' should say '" + reason + "'");
        assertTrue(!a.text().strip().contains("\n"), "one line: " + a.text());
    }

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class WithLogReplay {
        TestCluster cluster;
        Group group;
        String base;
        String groupUrl;

        @BeforeAll
        void start(@TempDir Path tmp) throws Exception {
            cluster = new TestCluster(tmp, 1, new LogReplaySync(BATCH, Duration.ofSeconds(5), 1),
                    UnaryOperator.identity()).startAll();
            group = cluster.nodes[0].group;
            for (int i = 0; i < 6; i++) {
                group.submitBlocking(KvMachine.put("k" + i, "v" + i));
            }
            base = cluster.nodes[0].member.http().toString();
            groupUrl = base + "/groups/" + group.id();
        }

        @AfterAll
        void stop() throws Exception {
            if (cluster != null) {
                cluster.close();
            }
        }

        Answer get(String path) throws Exception {
            return send("GET", URI.create(groupUrl + "/" + path));
        }

        Answer post(String path) throws Exception {
            return send("POST", URI.create(groupUrl + "/" + path));
        }

        /** A request signed as {@code member} with {@code key}, dated {@code ago} in the past. */
        Answer signed(String method, String path, String member, RequestSigning.HostKey key, Duration ago)
                throws Exception {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(groupUrl + "/" + path))
                    .timeout(Duration.ofSeconds(10)).method(method, HttpRequest.BodyPublishers.noBody());
            key.sign(member, "n0", method, group.id().toString(), path, System.currentTimeMillis() - ago.toMillis())
                    .forEach(b::header);
            HttpResponse<byte[]> res = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(res.statusCode(), res.body());
        }

        /** A request signed by this group's one member, n0, with its host's key. */
        Answer asMember(String method, String path) throws Exception {
            return signed(method, path, "n0", cluster.nodes[0].host.hostKey(), Duration.ZERO);
        }

        long last() {
            return group.committedLog().last().index();
        }

        @Test
        void groupsListsTheHostedGroup() throws Exception {
            Answer a = send("GET", URI.create(base + "/groups"));
            assertEquals(200, a.status(), a.text());
            JsonNode groups = a.json().path("groups");
            assertEquals(1, groups.size(), a.text());
            JsonNode g = groups.get(0);
            assertEquals("test", g.path("name").asText());
            assertEquals(group.id().toString(), g.path("id").asText());
            assertEquals("test-kv/v1", g.path("typeTag").asText());
            assertEquals("LogReplaySync(batch=4,fetchTimeout=5000ms)", g.path("sync").asText());
            assertRefused(405, "method POST not allowed", send("POST", URI.create(base + "/groups")));
        }

        @Test
        void infoDescribesTheGroupAndTheMember() throws Exception {
            Answer a = get("info");
            assertEquals(200, a.status(), a.text());
            JsonNode n = a.json();
            assertEquals(group.id().toString(), n.path("id").asText());
            assertEquals("test", n.path("name").asText());
            assertEquals("test-kv/v1", n.path("typeTag").asText());
            assertEquals("n0", n.path("member").asText());
            assertEquals("n0", n.path("leader").asText());
            assertTrue(n.path("appliedIndex").asLong() >= 6, a.text());
            assertTrue(n.path("appliedTerm").asLong() >= 1, a.text());
        }

        @Test
        void unknownGroupsAndRoutesAre404() throws Exception {
            assertRefused(404, "this node hosts no group 'ffffffffffffffffffffffffffffffff'",
                    send("GET", URI.create(base + "/groups/ffffffffffffffffffffffffffffffff/info")));
            assertRefused(404, "no group route 'nope'", get("nope"));
            assertRefused(404, "no sync route log/nope", get("sync/log/nope"));
            assertRefused(404, "no sync route snapshots", get("sync/snapshots"));
        }

        @Test
        void aLeaseIsGrantedCappedAndReleased() throws Exception {
            Answer granted = asMember("POST", "leases?session=peer-1.a&from=2&ttlMs=60000");
            assertEquals(200, granted.status(), granted.text());
            assertEquals(60000, granted.json().path("ttlMs").asLong());
            assertEquals(1, group.leases());

            // A renewal asking for more than the cap gets the cap
            Answer renewed = asMember("POST", "leases?session=peer-1.a&from=3&snapshot=" + ANY_CID + "&ttlMs=999999999");
            assertEquals(200, renewed.status(), renewed.text());
            assertEquals(300_000, renewed.json().path("ttlMs").asLong());
            assertEquals(1, group.leases());

            assertRefused(401, "only a member of the group may ask this",
                    send("DELETE", URI.create(groupUrl + "/leases?session=peer-1.a")));
            assertEquals(1, group.leases(), "an unsigned release releases nothing");
            Answer released = asMember("DELETE", "leases?session=peer-1.a");
            assertEquals(200, released.status(), released.text());
            assertTrue(released.json().path("released").asBoolean());
            assertEquals(0, group.leases());
            assertRefused(400, "missing query parameter 'session'", send("DELETE", URI.create(groupUrl + "/leases")));
        }

        @Test
        void logRangeReportsWhatIsHeld() throws Exception {
            Answer a = get("sync/log/range");
            assertEquals(200, a.status(), a.text());
            JsonNode n = a.json();
            assertEquals(1, n.path("first").asLong());
            assertEquals(last(), n.path("last").asLong());
            assertEquals(group.committedLog().last().term(), n.path("lastTerm").asLong());
            assertRefused(405, "method POST not allowed here: use GET", post("sync/log/range"));
        }

        @Test
        void badEntryRangesAreRefused() throws Exception {
            assertRefused(400, "bad range 5..3", get("sync/log/entries?from=5&to=3"));
            assertRefused(400, "bad range 0..3", get("sync/log/entries?from=0&to=3"));
            assertRefused(400, "missing query parameter 'to'", get("sync/log/entries?from=1"));
            assertRefused(400, "query parameter 'from' is not an integer", get("sync/log/entries?from=x&to=3"));
            assertRefused(400, "query parameter 'to' is not an integer",
                    get("sync/log/entries?from=1&to=99999999999999999999"));
            long l = last();
            assertRefused(404, "entries from " + (l + 1) + " are not held here (held: 1.." + l + ")",
                    get("sync/log/entries?from=" + (l + 1) + "&to=" + (l + 10)));
            // Far beyond, where from + batch overflows
            assertRefused(404, "are not held here", get("sync/log/entries?from=" + Long.MAX_VALUE + "&to=" + Long.MAX_VALUE));
        }

        @Test
        void entriesAreServedInFramesCutAtTheBatchAndAtTheLogEnd() throws Exception {
            // A range far past the end is cut at the batch size...
            EntryFrame cutByBatch = frame(2, 1_000_000);
            assertEquals(2, cutByBatch.from());
            assertEquals(2 + BATCH - 1, cutByBatch.to());
            // ...and near the end, at the last entry held
            long l = last();
            EntryFrame cutByEnd = frame(l - 1, 1_000_000);
            assertEquals(l, cutByEnd.to());
            assertEquals(2, cutByEnd.entries().size());
            // A range inside the batch is served exactly
            assertEquals(3, frame(3, 3).to());

            // Walking the whole log frame by frame finds the commands written, in order
            List<String> commands = new ArrayList<>();
            for (long from = 1; from <= l; ) {
                EntryFrame f = frame(from, l);
                f.entries().stream().filter(e -> e.kind() == LogEntry.Kind.COMMAND)
                        .forEach(e -> commands.add(new String(e.data(), 3, 2, UTF_8)));
                from = f.to() + 1;
            }
            assertEquals(List.of("k0", "k1", "k2", "k3", "k4", "k5"), commands);
        }

        /** Fetches a frame, decodes it, and checks its chain against the chain the member reports before it and at its end. */
        EntryFrame frame(long from, long to) throws Exception {
            Answer a = get("sync/log/entries?from=" + from + "&to=" + to);
            assertEquals(200, a.status(), a.text());
            EntryFrame f = EntryFrame.decode(a.body(), BATCH);
            assertEquals(from, f.from());
            byte[] chain = chainAt(from - 1);
            for (LogEntry e : f.entries()) {
                chain = Chain.next(chain, e);
            }
            assertArrayEquals(f.claimedChain(), chain, "the frame's chain recomputes from the chain at " + (from - 1));
            assertArrayEquals(chainAt(f.to()), chain);
            return f;
        }

        byte[] chainAt(long index) throws Exception {
            Answer a = get("sync/log/chain?index=" + index);
            assertEquals(200, a.status(), a.text());
            assertEquals(index, a.json().path("index").asLong());
            return Chain.parse(a.json().path("chain").asText());
        }

        @Test
        void chainAtTheOriginIsGenesisAndUnknownIndicesAre404() throws Exception {
            assertArrayEquals(Chain.GENESIS, chainAt(0));
            long beyond = last() + 1;
            assertRefused(404, "index " + beyond + " is not held here", get("sync/log/chain?index=" + beyond));
            assertRefused(400, "missing query parameter 'index'", get("sync/log/chain"));
            assertRefused(400, "query parameter 'index' must not be negative", get("sync/log/chain?index=-1"));
        }

        @Test
        void metricsShowTheSyncMeters() throws Exception {
            Answer a = send("GET", URI.create(base + "/metrics"));
            assertEquals(200, a.status(), a.text());
            assertTrue(a.text().contains("statesync_groups_sync_sessions"), a.text());
            assertTrue(a.text().contains("statesync_groups_sync_lag"), a.text());
        }
    }

    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class WithSnapshots {
        @TempDir
        Path tmp;

        @Test
        void snapshotsAreOfferedAndTheirManifestsServed() throws Exception {
            try (TestCluster cluster = new TestCluster(tmp, 1, SnapshotSync.DEFAULT, UnaryOperator.identity())
                    .startAll()) {
                Group group = cluster.nodes[0].group;
                String groupUrl = cluster.nodes[0].member.http() + "/groups/" + group.id();

                // Given no snapshot yet, the offer is empty
                Answer none = send("GET", URI.create(groupUrl + "/sync/snapshots"));
                assertEquals(200, none.status(), none.text());
                assertEquals(0, none.json().path("snapshots").size(), none.text());

                // When a few commands are written and a snapshot is taken
                for (int i = 0; i < 3; i++) {
                    group.submitBlocking(KvMachine.put("k" + i, "v" + i));
                }
                SnapshotRecord snap = group.snapshotNow();

                // Then it is offered with its position and chain value
                Answer a = send("GET", URI.create(groupUrl + "/sync/snapshots"));
                assertEquals(200, a.status(), a.text());
                JsonNode offered = a.json().path("snapshots");
                assertEquals(1, offered.size(), a.text());
                assertEquals(snap.manifest().toString(), offered.get(0).path("manifest").asText());
                assertEquals(snap.index(), offered.get(0).path("index").asLong());
                assertEquals(snap.position().term(), offered.get(0).path("term").asLong());
                assertEquals(Chain.hex(snap.chain()), offered.get(0).path("chain").asText());

                // And its manifest is served from the group's store, bytes matching the CID
                Answer manifest = send("GET", URI.create(groupUrl + "/ipfs/" + snap.manifest()));
                assertEquals(200, manifest.status(), manifest.text());
                assertEquals(snap.manifest(), Cid.compute(snap.manifest().codec(), manifest.body()));
                assertTrue(manifest.text().contains(group.id().toString()), "the manifest names the group");

                // Bad requests on the snapshot routes
                assertEquals(404, send("GET", URI.create(groupUrl + "/ipfs/" + ANY_CID)).status());
                assertRefused(405, "method POST not allowed", send("POST", URI.create(groupUrl + "/sync/snapshots")));
                assertRefused(404, "no sync route log/range", send("GET", URI.create(groupUrl + "/sync/log/range")));
            }
        }
    }
}
