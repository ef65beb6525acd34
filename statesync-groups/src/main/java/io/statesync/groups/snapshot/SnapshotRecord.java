package io.statesync.groups.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import java.util.Objects;

/**
 * A snapshot of a group's state: the manifest that names its files, the log position it reflects
 * and the chain value there (so the member that installs it can go on checking log entries).
 */
public record SnapshotRecord(Cid manifest, LogPosition position, byte[] chain) {
    /** Manifest metadata keys a group snapshot carries. */
    public static final String META_GROUP = "group";
    public static final String META_TERM = "term";
    public static final String META_INDEX = "index";
    public static final String META_CHAIN = "chain";

    public SnapshotRecord {
        Objects.requireNonNull(manifest, "manifest");
        Objects.requireNonNull(position, "position");
        if (chain.length != Chain.SIZE) {
            throw new IllegalArgumentException("chain value must have " + Chain.SIZE + " bytes");
        }
    }

    public long index() {
        return position.index();
    }

    @Override
    public String toString() {
        return manifest + "@" + position;
    }
}
