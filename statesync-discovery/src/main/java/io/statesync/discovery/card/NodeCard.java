package io.statesync.discovery.card;

import java.net.URI;
import java.security.PublicKey;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What a node tells the cluster about itself, signed with its key: where it serves blobs, the
 * groups or threads it serves, the snapshots it holds, a version (higher replaces lower) and an
 * expiry (a card that is not refreshed stops counting).
 */
public record NodeCard(NodeId id, PublicKey key, List<URI> shareUrls, List<String> groups, List<SnapshotAd> snapshots,
                       long version, Instant expires) {
    public NodeCard {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(expires, "expires");
        shareUrls = List.copyOf(shareUrls);
        groups = List.copyOf(groups);
        snapshots = List.copyOf(snapshots);
    }

    /** True once {@code now} is past the expiry. */
    public boolean expiredAt(Instant now) {
        return now.isAfter(expires);
    }
}
