package io.statesync.groups;

import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Objects;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftPeer;

/**
 * A member of a group as every member's configuration names it.
 *
 * @param id a stable member id (letters, digits, {@code - _ .})
 * @param raft the address the member's consensus server listens on for this group
 * @param http the base URL of the member's HTTP server (its file share), where its catch-up routes
 *     for the group live under {@code /groups/{groupId}/}
 */
public record GroupMember(String id, InetSocketAddress raft, URI http) {
    public GroupMember {
        Objects.requireNonNull(raft, "raft");
        Objects.requireNonNull(http, "http");
        if (id == null || !id.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException("member id must be 1-64 of [A-Za-z0-9._-], not '"
                    + GroupConfig.printable(id) + "'");
        }
    }

    /** Ratis wants {@code host:port}. */
    String raftAddress() {
        return raft.getHostString() + ":" + raft.getPort();
    }

    /**
     * This member as a Ratis peer. Ratis's peer record has no field for other addresses, so the
     * HTTP base URL rides in its data-stream address: we never use Ratis's data streams, and the
     * peer record is what Ratis replicates and persists with every configuration, so every member
     * (a joiner too, and after any restart) knows where each member's catch-up routes are.
     */
    RaftPeer toRaftPeer(RaftPeerRole role) {
        return RaftPeer.newBuilder().setId(id).setAddress(raftAddress()).setDataStreamAddress(http.toString())
                .setStartupRole(role).build();
    }

    /** A consensus address as {@link #raftAddress} writes it, {@code host:port}. */
    static InetSocketAddress parseRaft(String address) {
        int colon = address.lastIndexOf(':');
        return InetSocketAddress.createUnresolved(address.substring(0, colon),
                Integer.parseInt(address.substring(colon + 1)));
    }

    /** The member a Ratis peer record describes (see {@link #toRaftPeer}). */
    static GroupMember of(RaftPeer peer) {
        InetSocketAddress raft = parseRaft(peer.getAddress());
        String http = peer.getDataStreamAddress();
        return new GroupMember(peer.getId().toString(), raft, URI.create(http == null || http.isEmpty()
                ? "http://" + raft.getHostString() + ":0" : http));
    }
}
