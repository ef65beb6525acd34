package io.statesync.groups;

import io.statesync.groups.sync.StateSync;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How one member runs one group. Build with {@link #of} and adjust with the {@code with…} methods.
 *
 * @param name the group name, the same on every member
 * @param self this member's id; must be one of {@code members}
 * @param members the group's founding members, this one included, the same list on every founder;
 *     for a member that joins (see {@code joinVia}) at least itself
 * @param dataDir where this member keeps the group (consensus log, committed log, snapshots, store)
 * @param sync the catch-up strategy, the same on every member
 * @param snapshotEvery a snapshot is taken at every log index that is a multiple of this
 *     (default 10 000); every member snapshots at the same indices
 * @param retainSnapshots snapshots kept besides ones a running session holds (default 2)
 * @param retainEntries committed entries kept behind the applied index for lagging peers
 *     (default 1 000 000), unless a session's lease needs more; never past the newest snapshot
 * @param retainLogBytes the most bytes of committed log kept (default 256 MiB): whichever of this
 *     and {@code retainEntries} keeps less decides, with the same two exceptions (a session's
 *     lease, the newest snapshot). An entry count alone does not bound the disk: 10 000 entries
 *     of 2 MiB blocks are 20 GiB. Entries since the newest snapshot are never pruned, so the log
 *     may exceed this by what was appended since then.
 * @param sessionTimeout deadline of one catch-up attempt (default 10 minutes)
 * @param retryBackoffMax the longest wait between failed attempts (default 10 s; starts at 200 ms)
 * @param electionTimeout the shortest election timeout; the longest is twice it (default 1 s)
 * @param raftSegmentBytes the consensus log's segment size (default 1 MiB); Ratis purges only
 *     whole closed segments, so smaller segments let its log shrink sooner after a snapshot
 * @param raftLogKept consensus log entries kept behind the newest snapshot when the log is purged
 *     (default 0). A member that installs a snapshot while new ones are being taken can then go
 *     on from the log instead of needing the next snapshot too.
 * @param joinVia HTTP base URLs of running members to join through (default none). Empty: this
 *     member is one of the group's founders and {@code members} lists them all, the same list on
 *     every founder. Not empty: this member joins a running group; {@code members} need name only
 *     this member (its own addresses), and the group's live membership is learned from these
 *     members. Either way the membership Ratis recorded wins once this member has run: members
 *     added or removed later are in it, whatever the list says.
 * @param stallTimeout how long the member may stop following (consensus not running, or its
 *     applied index standing still while its peers apply more) before it counts as stalled
 *     (default 30 s); see {@link Group#health()}
 */
public record GroupConfig(String name, String self, List<GroupMember> members, Path dataDir, StateSync sync,
                          long snapshotEvery, int retainSnapshots, long retainEntries, long retainLogBytes,
                          Duration sessionTimeout,
                          Duration retryBackoffMax, Duration electionTimeout, long raftSegmentBytes,
                          long raftLogKept, Duration stallTimeout, List<URI> joinVia) {
    public GroupConfig {
        Objects.requireNonNull(joinVia, "joinVia");
        joinVia = List.copyOf(joinVia);
        Objects.requireNonNull(stallTimeout, "stallTimeout");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(sync, "sync");
        Objects.requireNonNull(members, "members");
        Objects.requireNonNull(sessionTimeout, "sessionTimeout");
        Objects.requireNonNull(retryBackoffMax, "retryBackoffMax");
        Objects.requireNonNull(electionTimeout, "electionTimeout");
        members = List.copyOf(members);
        if (name == null || !name.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException("group name must be 1-64 of [A-Za-z0-9._-], not '" + printable(name)
                    + "'");
        }
        if (members.stream().noneMatch(m -> m.id().equals(self))) {
            throw new IllegalArgumentException("member '" + printable(self) + "' is not in the group's member list");
        }
        if (members.stream().map(GroupMember::id).distinct().count() != members.size()) {
            throw new IllegalArgumentException("member ids must be unique");
        }
        if (snapshotEvery < 1) {
            throw new IllegalArgumentException("snapshotEvery must be positive, not " + snapshotEvery);
        }
        if (retainSnapshots < 1) {
            throw new IllegalArgumentException("retainSnapshots must be positive, not " + retainSnapshots);
        }
        if (retainEntries < 0) {
            throw new IllegalArgumentException("retainEntries must not be negative, not " + retainEntries);
        }
        if (retainLogBytes < 0) {
            throw new IllegalArgumentException("retainLogBytes must not be negative, not " + retainLogBytes);
        }
        if (raftLogKept < 0) {
            throw new IllegalArgumentException("raftLogKept must not be negative, not " + raftLogKept);
        }
        if (raftSegmentBytes < 4096) {
            throw new IllegalArgumentException("raftSegmentBytes must be at least 4096, not " + raftSegmentBytes);
        }
        String[] names = {"sessionTimeout", "retryBackoffMax", "electionTimeout", "stallTimeout"};
        Duration[] timeouts = {sessionTimeout, retryBackoffMax, electionTimeout, stallTimeout};
        for (int i = 0; i < timeouts.length; i++) {
            if (timeouts[i].isNegative() || timeouts[i].isZero()) {
                throw new IllegalArgumentException(names[i] + " must be positive, not " + timeouts[i]);
            }
        }
    }

    public static GroupConfig of(String name, String self, List<GroupMember> members, Path dataDir, StateSync sync) {
        return new GroupConfig(name, self, members, dataDir, sync, 10_000, 2, 1_000_000, 256L << 20,
                Duration.ofMinutes(10), Duration.ofSeconds(10), Duration.ofSeconds(1), 1 << 20, 0, Duration.ofSeconds(30), List.of());
    }

    public GroupConfig withSnapshotEvery(long v) {
        return new GroupConfig(name, self, members, dataDir, sync, v, retainSnapshots, retainEntries, retainLogBytes,
                sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withRetention(int snapshots, long entries) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, snapshots, entries, retainLogBytes,
                sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    /** At most {@code bytes} of committed log are kept (see {@link #retainLogBytes}). */
    public GroupConfig withRetainLogBytes(long bytes) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries, bytes,
                sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withSessionTimeout(Duration v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, v, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withRetryBackoffMax(Duration v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, v, electionTimeout, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withElectionTimeout(Duration v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, retryBackoffMax, v, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withSync(StateSync v) {
        return new GroupConfig(name, self, members, dataDir, v, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withRaftSegmentBytes(long v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, retryBackoffMax, electionTimeout, v, raftLogKept, stallTimeout, joinVia);
    }

    public GroupConfig withRaftLogKept(long v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, v, stallTimeout, joinVia);
    }

    public GroupConfig withStallTimeout(Duration v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept, v, joinVia);
    }

    /**
     * Joins a running group through these members instead of founding it (see {@link #joinVia}).
     */
    public GroupConfig withJoinVia(List<URI> v) {
        return new GroupConfig(name, self, members, dataDir, sync, snapshotEvery, retainSnapshots, retainEntries,
                retainLogBytes, sessionTimeout, retryBackoffMax, electionTimeout, raftSegmentBytes, raftLogKept,
                stallTimeout, v);
    }

    boolean joining() {
        return !joinVia.isEmpty();
    }

    /** User-supplied text made safe for a one-line message: control characters as '?', at most 64 chars. */
    static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), 64));
        for (int i = 0; i < s.length() && i < 64; i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) ? '?' : c);
        }
        return s.length() > 64 ? b + "..." : b.toString();
    }

    GroupMember selfMember() {
        return members.stream().filter(m -> m.id().equals(self)).findFirst().orElseThrow();
    }
}
