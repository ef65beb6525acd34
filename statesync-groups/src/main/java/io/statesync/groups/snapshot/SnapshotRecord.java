package io.statesync.groups.snapshot;

import io.statesync.core.cid.Cid;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * A snapshot of a group's state: the manifest that names its files, the log position it reflects
 * and the chain value there (so the member that installs it can go on checking log entries), and
 * the state machine's own manifest metadata (block id, height, ...; the group's keys left out), so
 * a user can read it without loading the manifest.
 */
public record SnapshotRecord(Cid manifest, LogPosition position, byte[] chain, Map<String, String> metadata) {
    /** Manifest metadata keys a group snapshot carries. */
    public static final String META_GROUP = "group";
    public static final String META_TERM = "term";
    public static final String META_INDEX = "index";
    public static final String META_CHAIN = "chain";
    private static final Set<String> GROUP_KEYS = Set.of(META_GROUP, META_TERM, META_INDEX, META_CHAIN);

    public SnapshotRecord {
        Objects.requireNonNull(manifest, "manifest");
        Objects.requireNonNull(position, "position");
        if (chain.length != Chain.SIZE) {
            throw new IllegalArgumentException("chain value must have " + Chain.SIZE + " bytes");
        }
        metadata = Collections.unmodifiableMap(new TreeMap<>(metadata == null ? Map.of() : metadata));
    }

    /** A record without machine metadata (a snapshot of a machine that adds none, or an offer). */
    public SnapshotRecord(Cid manifest, LogPosition position, byte[] chain) {
        this(manifest, position, chain, Map.of());
    }

    /** The same snapshot with the machine's part of {@code manifestMetadata} (the group's keys dropped). */
    public SnapshotRecord withManifestMetadata(Map<String, String> manifestMetadata) {
        return new SnapshotRecord(manifest, position, chain, machineMetadata(manifestMetadata));
    }

    /** The machine's part of a snapshot manifest's metadata: everything but the group's own keys. */
    public static Map<String, String> machineMetadata(Map<String, String> manifestMetadata) {
        Map<String, String> out = new TreeMap<>(manifestMetadata);
        out.keySet().removeAll(GROUP_KEYS);
        return out;
    }

    public long index() {
        return position.index();
    }

    @Override
    public String toString() {
        return manifest + "@" + position;
    }
}
