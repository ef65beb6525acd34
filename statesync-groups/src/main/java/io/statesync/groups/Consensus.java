package io.statesync.groups;

import io.statesync.groups.sync.Peer;
import java.io.IOException;
import java.util.Comparator;
import java.util.List;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;

/**
 * The shared view of one member's consensus engine: the running Ratis server and its bridge,
 * both replaced together when the stall watch restarts consensus, and what they tell (the
 * leader, the division, the membership). Everything that used to hold the engine's parts in
 * one-element holders (routes, the provider, catch-up sessions, the stall watch) reads this.
 */
final class Consensus {
    private final String self;
    private final RaftGroupId raftGroupId;
    private volatile RaftServer server;
    private volatile RatisMachine machine;
    /**
     * The members known without consensus: the configured ones, or for a joiner those the group
     * reported; used while this member's own configuration names nobody (a joiner not yet added).
     */
    private volatile List<GroupMember> known;

    Consensus(String self, RaftGroupId raftGroupId, List<GroupMember> known) {
        this.self = self;
        this.raftGroupId = raftGroupId;
        this.known = List.copyOf(known);
    }

    RaftGroupId raftGroupId() {
        return raftGroupId;
    }

    /** Installs a new engine (at start, and at every consensus restart); the bridge may come first. */
    void use(RaftServer server, RatisMachine machine) {
        this.machine = machine;
        this.server = server;
    }

    RaftServer server() {
        return server;
    }

    RatisMachine machine() {
        return machine;
    }

    /** The leader's member id as this member last heard it, or null. */
    String leader() {
        RatisMachine m = machine;
        return m == null ? null : m.leader();
    }

    /** The running division; throws while there is none (before start, between a stop and a start). */
    RaftServer.Division division() throws IOException {
        RaftServer s = server;
        if (s == null) {
            throw new IOException("consensus is not running");
        }
        return s.getDivision(raftGroupId);
    }

    /** The configuration this member holds, or an empty one while it is not readable. */
    MemberChanges.Conf conf() {
        try {
            return MemberChanges.Conf.of(division());
        } catch (IOException | RuntimeException e) {
            return MemberChanges.Conf.EMPTY;
        }
    }

    void known(List<GroupMember> members) {
        this.known = List.copyOf(members);
    }

    /**
     * The other members, leader last (it has the most work already): those of the configuration
     * Ratis holds (members added or removed since the start included), or the known ones while it
     * names nobody.
     */
    List<Peer> peers() {
        List<GroupMember> members = conf().all();
        if (members.isEmpty()) {
            members = known;
        }
        String leader = leader();
        return members.stream()
                .filter(m -> !m.id().equals(self))
                .map(m -> new Peer(m.id(), m.http(), m.id().equals(leader)))
                .sorted(Comparator.comparing(Peer::leader))
                .toList();
    }
}
