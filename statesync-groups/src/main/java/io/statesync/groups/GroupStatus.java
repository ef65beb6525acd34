package io.statesync.groups;

import io.statesync.groups.log.LogPosition;
import io.statesync.groups.sync.SyncProgress;

/**
 * One member's view of a group.
 *
 * @param role LEADER, FOLLOWER, CANDIDATE, LISTENER or UNKNOWN (also while consensus is not running)
 * @param consensus the consensus engine's lifecycle state: RUNNING, or e.g. CLOSED once it stopped
 * @param leader the leader's member id, or null when unknown
 * @param applied the position the local state reflects
 * @param commitIndex the commit index the consensus engine knows
 * @param latestSnapshot the newest local snapshot's position, or null
 * @param catchingUp whether a catch-up is running
 * @param catchUpAttempts attempts of the current (or last) catch-up
 * @param lastSyncError why the last failed attempt failed, or null
 * @param syncProgress how far the running catch-up attempt is, or null
 * @param health whether the member follows its group (see {@link Group#health()})
 * @param members the group's members as this member's copy of the configuration records them,
 *     leader first; empty while consensus is not readable
 * @param joining how far this member's join is ({@link Group#joinPhase()}), or null for a member
 *     that was in the group when it started
 */
public record GroupStatus(String groupId, String name, String member, String role, String consensus, String leader, LogPosition applied,
                          long commitIndex, LogPosition latestSnapshot, boolean catchingUp, int catchUpAttempts,
                          String lastSyncError, SyncProgress syncProgress,
                          GroupHealth health, java.util.List<Member> members, String joining) {

    /** A voting member, or a listener that receives the log but does not vote. */
    public enum Role { LEADER, FOLLOWER, LISTENER }

    /**
     * One member of the group.
     *
     * @param index this member's applied index for itself; for others the commit index this member
     *     last heard from them (known on the leader; elsewhere often -1)
     */
    public record Member(String id, Role role, String raft, java.net.URI http, long index) {
    }
}
