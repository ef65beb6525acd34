package io.statesync.groups;

import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Objects;

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
}
