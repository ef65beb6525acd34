package io.statesync.groups;

import static io.statesync.groups.GroupRoutesTest.assertRefused;
import static io.statesync.groups.GroupRoutesTest.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.groups.GroupRoutesTest.Answer;
import io.statesync.groups.sync.Leases;
import io.statesync.groups.sync.RequestSigning;
import io.statesync.groups.sync.replay.LogReplaySync;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attack suite of the groups module (issue 14): lease abuse against a member of a real
 * two-member group over loopback (one cluster for the whole class). A lease keeps log entries or
 * a snapshot on a node, so only a current member may take one, in a request it signed for this
 * receiver and this query, a few per member, and only its owner may release it. Every case checks
 * the status and the one-line reason, that no refused request left a lease, and, after it, that a
 * member's legitimate lease request is still granted.
 *
 * <p>Also defended, and tested elsewhere: bad ranges and indexes on the catch-up read routes
 * ({@code GroupRoutesTest}); the per-owner and total bounds, expiry and the TTL cap on a fake
 * clock ({@code sync.LeasesTest}); snapshot offers not confirmed by a second member or a majority
 * ({@code sync.snapshot.SnapshotOffersTest}); malformed log frames ({@code log.EntryFrameTest});
 * a log batch that does not match the hash chain ({@code CatchUpTest}, {@code FaultTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SecurityTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final String ANY_CID = Cid.compute(Codec.DAG_JSON, "x".getBytes(StandardCharsets.UTF_8)).toString();

    private TestCluster cluster;
    private Group group;
    private String groupUrl;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        cluster = new TestCluster(tmp, 2, new LogReplaySync(4, Duration.ofSeconds(5), 1),
                UnaryOperator.identity()).startAll();
        group = cluster.nodes[0].group;
        group.submitBlocking(KvMachine.put("k", "v"));
        groupUrl = cluster.nodes[0].member.http() + "/groups/" + group.id();
    }

    @AfterAll
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    @AfterEach
    void aMembersLeaseRequestIsStillGranted() throws Exception {
        assertEquals(0, group.leases(), "no refused request left a lease");
        Answer granted = asMember("n1", "POST", "leases?session=legit&from=1&ttlMs=60000");
        assertEquals(200, granted.status(), granted.text());
        assertEquals(1, group.leases());
        assertTrue(asMember("n1", "DELETE", "leases?session=legit").json().path("released").asBoolean());
        assertEquals(0, group.leases());
    }

    /** A request to n0, signed as {@code member} for {@code receiver} with {@code key}, dated {@code ago} in the past. */
    private Answer signed(String method, String path, String member, String receiver, RequestSigning.HostKey key,
                          Duration ago) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(groupUrl + "/" + path))
                .timeout(Duration.ofSeconds(10)).method(method, HttpRequest.BodyPublishers.noBody());
        key.sign(member, receiver, method, group.id().toString(), path, System.currentTimeMillis() - ago.toMillis())
                .forEach(b::header);
        HttpResponse<byte[]> res = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        return new Answer(res.statusCode(), res.body());
    }

    /** A request to n0 signed by member {@code id} with its own host's key. */
    private Answer asMember(String id, String method, String path) throws Exception {
        RequestSigning.HostKey key = cluster.nodes[Integer.parseInt(id.substring(1))].host.hostKey();
        return signed(method, path, id, "n0", key, Duration.ZERO);
    }

    private Answer unsigned(String method, String path) throws Exception {
        return send(method, URI.create(groupUrl + "/" + path));
    }

    @Test
    @DisplayName("malformed lease requests: 400 with the reason, before any signature is looked at")
    void badLeaseRequestsAre400WithTheReason() throws Exception {
        assertRefused(400, "missing query parameter 'session'", unsigned("POST", "leases?from=1&ttlMs=1000"));
        assertRefused(400, "session ids are 1-128 of [A-Za-z0-9._-]", unsigned("POST", "leases?session=a!b&from=1&ttlMs=1000"));
        assertRefused(400, "session ids are 1-128", unsigned("POST", "leases?session=" + "s".repeat(129) + "&from=1&ttlMs=1000"));
        assertRefused(400, "a lease needs 'from' (a log index) or 'snapshot' (a CID)",
                unsigned("POST", "leases?session=s&ttlMs=1000"));
        assertRefused(400, "malformed snapshot CID", unsigned("POST", "leases?session=s&snapshot=nonsense&ttlMs=1000"));
        assertRefused(400, "ttlMs must be positive", unsigned("POST", "leases?session=s&from=1&ttlMs=0"));
        assertRefused(400, "missing query parameter 'ttlMs'", unsigned("POST", "leases?session=s&from=1"));
        assertRefused(400, "query parameter 'from' is not an integer", unsigned("POST", "leases?session=s&from=one&ttlMs=1000"));
        assertRefused(400, "query parameter 'from' must not be negative",
                unsigned("POST", "leases?session=s&from=-5&ttlMs=1000"));
        assertRefused(400, "query parameter 'session' given more than once",
                unsigned("POST", "leases?session=s&session=t&from=1&ttlMs=1000"));
        assertRefused(405, "method GET not allowed here: use POST or DELETE", unsigned("GET", "leases?session=s"));
        assertRefused(400, "missing query parameter 'session'", unsigned("DELETE", "leases"));
    }

    @Test
    @DisplayName("unsigned: 401; signed with another key, too old, for another query or receiver: 401; non-member: 403")
    void onlyAMemberGetsALeaseInARequestItSigned() throws Exception {
        String ask = "leases?session=s&snapshot=" + ANY_CID + "&ttlMs=60000";
        RequestSigning.HostKey n1Key = cluster.nodes[1].host.hostKey();
        assertRefused(401, "only a member of the group may ask this", unsigned("POST", ask));
        assertRefused(401, "the signature does not verify with member n1's host key",
                signed("POST", ask, "n1", "n0", RequestSigning.HostKey.generate(), Duration.ZERO));
        assertRefused(401, "the signature does not verify with member n1's host key",
                signed("POST", ask, "n1", "n0", cluster.nodes[0].host.hostKey(), Duration.ZERO));
        assertRefused(403, "'n9' is not a member of this group", signed("POST", ask, "n9", "n0", n1Key, Duration.ZERO));
        assertRefused(401, "the request's time is 600 s from this member's clock (at most 120 s)",
                signed("POST", ask, "n1", "n0", n1Key, Duration.ofMinutes(10)));
        // Signed for another request: the signature covers the route and the query
        HttpRequest.Builder swapped = HttpRequest.newBuilder(URI.create(groupUrl + "/" + ask.replace("=s&", "=t&")))
                .method("POST", HttpRequest.BodyPublishers.noBody());
        n1Key.sign("n1", "n0", "POST", group.id().toString(), ask).forEach(swapped::header);
        HttpResponse<String> res = HTTP.send(swapped.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(401, res.statusCode(), res.body());
        // Signed for another receiver: a request n1 made to itself cannot be replayed to n0
        assertRefused(401, "the signature does not verify", signed("POST", ask, "n1", "n1", n1Key, Duration.ZERO));
    }

    @Test
    @DisplayName("a member's signed request sent again (a replay within the time window): 401, and it takes nothing")
    void aSignedRequestCannotBeReplayed() throws Exception {
        String ask = "leases?session=replayed&from=1&ttlMs=60000";
        java.util.Map<String, String> headers = cluster.nodes[1].host.hostKey().sign("n1", "n0", "POST",
                group.id().toString(), ask);
        assertEquals(200, sendWith(headers, "POST", ask).status());
        assertTrue(asMember("n1", "DELETE", "leases?session=replayed").json().path("released").asBoolean());

        // Someone who saw the request sends it again to retake the lease after its release.
        assertRefused(401, "this signed request was received before (a replay)", sendWith(headers, "POST", ask));
        assertEquals(0, group.leases());
        // Even with the signature written another way (base64's unused bits): the request is the same.
        String sig = headers.get(RequestSigning.SIGNATURE);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int last = alphabet.indexOf(sig.charAt(sig.length() - 1));
        assertEquals(0, last & 0xF, "64 bytes leave the last character's 4 low bits unused");
        java.util.Map<String, String> reencoded = new java.util.HashMap<>(headers);
        reencoded.put(RequestSigning.SIGNATURE, sig.substring(0, sig.length() - 1) + alphabet.charAt(last | 1));
        assertRefused(401, "this signed request was received before (a replay)", sendWith(reencoded, "POST", ask));
        assertEquals(0, group.leases());
    }

    private Answer sendWith(java.util.Map<String, String> headers, String method, String path) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(groupUrl + "/" + path))
                .timeout(Duration.ofSeconds(10)).method(method, HttpRequest.BodyPublishers.noBody());
        headers.forEach(b::header);
        HttpResponse<byte[]> res = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        return new Answer(res.statusCode(), res.body());
    }

    @Test
    @DisplayName("more leases than a member may hold: 429 with the bound; a renewal is still allowed")
    void aMemberHoldsAtMostAFewLeases() throws Exception {
        for (int i = 0; i < Leases.MAX_PER_OWNER; i++) {
            assertEquals(200, asMember("n1", "POST", "leases?session=s" + i + "&from=1&ttlMs=60000").status());
        }
        assertRefused(429, "member n1 holds " + Leases.MAX_PER_OWNER + " leases here already",
                asMember("n1", "POST", "leases?session=one-more&from=1&ttlMs=60000"));
        assertEquals(200, asMember("n1", "POST", "leases?session=s0&from=2&ttlMs=60000").status(), "a renewal");
        assertEquals(Leases.MAX_PER_OWNER, group.leases());
        // The other member's bound is its own
        assertEquals(200, asMember("n0", "POST", "leases?session=n0s&from=1&ttlMs=60000").status());
        assertTrue(asMember("n0", "DELETE", "leases?session=n0s").json().path("released").asBoolean());
        for (int i = 0; i < Leases.MAX_PER_OWNER; i++) {
            assertTrue(asMember("n1", "DELETE", "leases?session=s" + i).json().path("released").asBoolean());
        }
    }

    @Test
    @DisplayName("releasing another member's lease, or releasing unsigned: nothing is released")
    void onlyTheOwnerReleasesALease() throws Exception {
        assertEquals(200, asMember("n0", "POST", "leases?session=shared&from=1&ttlMs=60000").status());
        assertEquals(1, group.leases());

        assertRefused(401, "only a member of the group may ask this", unsigned("DELETE", "leases?session=shared"));
        Answer other = asMember("n1", "DELETE", "leases?session=shared");
        assertEquals(200, other.status(), other.text());
        assertFalse(other.json().path("released").asBoolean(), "n1 cannot release n0's lease: " + other.text());
        assertEquals(1, group.leases(), "n0's lease still holds");

        assertTrue(asMember("n0", "DELETE", "leases?session=shared").json().path("released").asBoolean());
    }
}
