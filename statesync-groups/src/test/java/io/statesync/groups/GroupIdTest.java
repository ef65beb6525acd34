package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.SyncSignature;
import io.statesync.groups.sync.replay.LogReplaySync;
import io.statesync.groups.sync.snapshot.SnapshotSync;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Group ids (what members must agree on) and the validation of everything a group is configured
 * with: every bad value is refused with a message naming it.
 */
class GroupIdTest {
    private static final String TAG = "test-kv/v1";
    private static final Path DIR = Path.of("/nonexistent/statesync-test");

    private static GroupMember member(String id, int port) {
        return new GroupMember(id, new InetSocketAddress("127.0.0.1", port), URI.create("http://127.0.0.1:" + (port + 1)));
    }

    private static final List<GroupMember> MEMBERS = List.of(member("n0", 7000), member("n1", 7010), member("n2", 7020));

    private static GroupId id(String name, String tag, StateSync sync) {
        return GroupId.derive(name, tag, sync.signature());
    }

    private static String refused(Executable e) {
        String m = assertThrows(IllegalArgumentException.class, e).getMessage();
        assertTrue(m != null && !m.isBlank() && !m.contains("\n"), "a one-line reason: " + m);
        return m;
    }

    private static String refusedNull(Executable e) {
        return assertThrows(NullPointerException.class, e).getMessage();
    }

    // ---- ids ----

    @Test
    void theIdIsDeterministic() {
        GroupId a = id("orders", TAG, LogReplaySync.DEFAULT);
        GroupId b = GroupId.derive("orders", TAG, new LogReplaySync(2000, Duration.ofSeconds(25), 2).signature());
        assertEquals(a, b);
        assertEquals(a.toString(), b.toString());
        assertTrue(a.toString().matches("[0-9a-f]{32}"), a.toString());
    }

    @Test
    void theIdChangesWithEveryAgreedInput() {
        List<GroupId> ids = List.of(
                id("orders", TAG, LogReplaySync.DEFAULT),
                id("orders2", TAG, LogReplaySync.DEFAULT),
                id("orders", "test-kv/v2", LogReplaySync.DEFAULT),
                id("orders", TAG, LogReplaySync.DEFAULT.withBatchSize(1999)),
                id("orders", TAG, LogReplaySync.DEFAULT.withFetchTimeout(Duration.ofSeconds(26))),
                id("orders", TAG, SnapshotSync.DEFAULT),
                id("orders", TAG, new SnapshotSync(Duration.ofSeconds(5), Duration.ofSeconds(31), 16)),
                id("orders", TAG, new SnapshotSync(Duration.ofSeconds(6), Duration.ofSeconds(30), 16)));
        Set<GroupId> distinct = new HashSet<>(ids);
        assertEquals(ids.size(), distinct.size(), "ids: " + ids);
    }

    @Test
    void localTuningDoesNotChangeTheId() {
        // How many requests a member keeps in flight is its own business
        assertEquals(id("g", TAG, LogReplaySync.DEFAULT),
                id("g", TAG, new LogReplaySync(2000, Duration.ofSeconds(25), 7)));
        assertEquals(id("g", TAG, SnapshotSync.DEFAULT),
                id("g", TAG, new SnapshotSync(Duration.ofSeconds(5), Duration.ofSeconds(30), 1)));
    }

    @Test
    void inputsAreLengthPrefixedSoShiftedBoundariesDiffer() {
        SyncSignature s = LogReplaySync.DEFAULT.signature();
        assertNotEquals(GroupId.derive("ab", "c", s), GroupId.derive("a", "bc", s));
    }

    @Test
    void signaturesDescribeTheAgreedSettings() {
        assertEquals("LogReplaySync(batch=2000,fetchTimeout=25000ms)", LogReplaySync.DEFAULT.signature().description());
        assertEquals("SnapshotSync(offerTimeout=5000ms,leaseTtl=30000ms)", SnapshotSync.DEFAULT.signature().description());
        assertEquals("a sync signature needs a description", refused(() -> new SyncSignature(" ")));
        assertEquals("a sync signature needs a description", refused(() -> new SyncSignature(null)));
    }

    // ---- GroupConfig ----

    @Test
    void aValidConfigHasTheDocumentedDefaults() {
        GroupConfig c = GroupConfig.of("orders", "n1", MEMBERS, DIR, LogReplaySync.DEFAULT);
        assertEquals(10_000, c.snapshotEvery());
        assertEquals(2, c.retainSnapshots());
        assertEquals(1_000_000, c.retainEntries());
        assertEquals(256L << 20, c.retainLogBytes());
        assertEquals(Duration.ofMinutes(10), c.sessionTimeout());
        assertEquals(Duration.ofSeconds(10), c.retryBackoffMax());
        assertEquals(Duration.ofSeconds(1), c.electionTimeout());
        assertEquals(1 << 20, c.raftSegmentBytes());
        assertEquals("n1", c.selfMember().id());
    }

    @Test
    void badGroupNamesAreRefused() {
        for (String bad : new String[] {"", "has space", "a/b", "ünï", "x".repeat(65), "new\nline"}) {
            String m = refused(() -> GroupConfig.of(bad, "n0", MEMBERS, DIR, LogReplaySync.DEFAULT));
            assertTrue(m.startsWith("group name must be 1-64 of [A-Za-z0-9._-]"), m);
        }
        assertEquals("group name must be 1-64 of [A-Za-z0-9._-], not 'null'",
                refused(() -> GroupConfig.of(null, "n0", MEMBERS, DIR, LogReplaySync.DEFAULT)));
        assertEquals("group name must be 1-64 of [A-Za-z0-9._-], not 'new?line'",
                refused(() -> GroupConfig.of("new\nline", "n0", MEMBERS, DIR, LogReplaySync.DEFAULT)));
        assertEquals("group name must be 1-64 of [A-Za-z0-9._-], not '" + "y".repeat(64) + "...'",
                refused(() -> GroupConfig.of("y".repeat(10_000), "n0", MEMBERS, DIR, LogReplaySync.DEFAULT)));
        // The longest and the odd-but-valid names pass
        GroupConfig.of("x".repeat(64), "n0", MEMBERS, DIR, LogReplaySync.DEFAULT);
        GroupConfig.of("a.b_c-D9", "n0", MEMBERS, DIR, LogReplaySync.DEFAULT);
    }

    @Test
    void selfMustBeAMember() {
        assertEquals("member 'n9' is not in the group's member list",
                refused(() -> GroupConfig.of("g", "n9", MEMBERS, DIR, LogReplaySync.DEFAULT)));
        assertEquals("member 'null' is not in the group's member list",
                refused(() -> GroupConfig.of("g", null, MEMBERS, DIR, LogReplaySync.DEFAULT)));
        assertEquals("member 'n0' is not in the group's member list",
                refused(() -> GroupConfig.of("g", "n0", List.of(), DIR, LogReplaySync.DEFAULT)));
    }

    @Test
    void memberIdsMustBeUnique() {
        List<GroupMember> dup = List.of(member("n0", 7000), member("n1", 7010), member("n0", 7020));
        assertEquals("member ids must be unique", refused(() -> GroupConfig.of("g", "n1", dup, DIR, LogReplaySync.DEFAULT)));
    }

    @Test
    void nonPositiveSettingsAreRefusedByName() {
        GroupConfig c = GroupConfig.of("g", "n0", MEMBERS, DIR, LogReplaySync.DEFAULT);
        assertEquals("snapshotEvery must be positive, not 0", refused(() -> c.withSnapshotEvery(0)));
        assertEquals("retainSnapshots must be positive, not 0", refused(() -> c.withRetention(0, 10)));
        assertEquals("retainEntries must not be negative, not -1", refused(() -> c.withRetention(1, -1)));
        assertEquals("retainLogBytes must not be negative, not -1", refused(() -> c.withRetainLogBytes(-1)));
        assertEquals("raftSegmentBytes must be at least 4096, not 4095", refused(() -> c.withRaftSegmentBytes(4095)));
        assertEquals("sessionTimeout must be positive, not PT0S", refused(() -> c.withSessionTimeout(Duration.ZERO)));
        assertEquals("retryBackoffMax must be positive, not PT-1S",
                refused(() -> c.withRetryBackoffMax(Duration.ofSeconds(-1))));
        assertEquals("electionTimeout must be positive, not PT0S", refused(() -> c.withElectionTimeout(Duration.ZERO)));
        // Zero retained entries is allowed: keep nothing behind the applied index
        assertEquals(0, c.withRetention(1, 0).retainEntries());
    }

    @Test
    void missingValuesAreNamed() {
        GroupConfig c = GroupConfig.of("g", "n0", MEMBERS, DIR, LogReplaySync.DEFAULT);
        assertEquals("dataDir", refusedNull(() -> GroupConfig.of("g", "n0", MEMBERS, null, LogReplaySync.DEFAULT)));
        assertEquals("sync", refusedNull(() -> GroupConfig.of("g", "n0", MEMBERS, DIR, null)));
        assertEquals("members", refusedNull(() -> GroupConfig.of("g", "n0", null, DIR, LogReplaySync.DEFAULT)));
        assertEquals("sessionTimeout", refusedNull(() -> c.withSessionTimeout(null)));
        assertEquals("retryBackoffMax", refusedNull(() -> c.withRetryBackoffMax(null)));
        assertEquals("electionTimeout", refusedNull(() -> c.withElectionTimeout(null)));
    }

    @Test
    void badMemberIdsAreRefused() {
        String m = refused(() -> member("has space", 7000));
        assertEquals("member id must be 1-64 of [A-Za-z0-9._-], not 'has space'", m);
        refused(() -> member("", 7000));
        assertEquals("member id must be 1-64 of [A-Za-z0-9._-], not 'a?b'", refused(() -> member("a\rb", 7000)));
        refused(() -> member(null, 7000));
        assertEquals("raft", refusedNull(() -> new GroupMember("n0", null, URI.create("http://127.0.0.1:1"))));
        assertEquals("http", refusedNull(() -> new GroupMember("n0", new InetSocketAddress("127.0.0.1", 1), null)));
    }

    // ---- strategies ----

    @Test
    void logReplaySyncValidatesItsSettings() {
        Supplier<Duration> ok = () -> Duration.ofSeconds(1);
        assertEquals("batchSize must be in [1, 100000], not 0", refused(() -> new LogReplaySync(0, ok.get(), 1)));
        assertEquals("batchSize must be in [1, 100000], not 100001",
                refused(() -> new LogReplaySync(100_001, ok.get(), 1)));
        assertEquals("fetchTimeout must be positive, not PT0S", refused(() -> new LogReplaySync(1, Duration.ZERO, 1)));
        assertEquals("fetchTimeout must be positive, not PT-0.001S",
                refused(() -> new LogReplaySync(1, Duration.ofMillis(-1), 1)));
        assertEquals("inFlightPerPeer must be at least 1, not 0", refused(() -> new LogReplaySync(1, ok.get(), 0)));
        assertEquals("fetchTimeout", refusedNull(() -> new LogReplaySync(1, null, 1)));
        // The bounds themselves are valid
        new LogReplaySync(1, ok.get(), 1);
        new LogReplaySync(100_000, ok.get(), 1);
    }

    @Test
    void snapshotSyncValidatesItsSettings() {
        Duration s = Duration.ofSeconds(1);
        assertEquals("offerTimeout must be positive, not PT0S", refused(() -> new SnapshotSync(Duration.ZERO, s, 1)));
        assertEquals("leaseTtl must be positive, not PT-1S",
                refused(() -> new SnapshotSync(s, Duration.ofSeconds(-1), 1)));
        assertEquals("parallelism must be at least 1, not 0", refused(() -> new SnapshotSync(s, s, 0)));
        assertEquals("offerTimeout", refusedNull(() -> new SnapshotSync(null, s, 1)));
        assertEquals("leaseTtl", refusedNull(() -> new SnapshotSync(s, null, 1)));
        new SnapshotSync(s, s, 1);
    }
}
