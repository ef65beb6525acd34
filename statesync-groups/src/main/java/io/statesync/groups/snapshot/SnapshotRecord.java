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

    /**
     * The snapshot a group manifest describes, read from its metadata (group, term, index, chain),
     * or empty if the metadata is not that of a snapshot of group {@code groupId}. Whoever wrote
     * the manifest chose these values; a caller that needs them true must have them confirmed.
     */
    public static java.util.Optional<SnapshotRecord> ofManifest(Cid manifest, Map<String, String> manifestMetadata,
                                                                 String groupId) {
        if (!groupId.equals(manifestMetadata.get(META_GROUP))) {
            return java.util.Optional.empty();
        }
        try {
            LogPosition position = new LogPosition(Long.parseLong(manifestMetadata.get(META_TERM)),
                    Long.parseLong(manifestMetadata.get(META_INDEX)));
            byte[] chain = Chain.parse(manifestMetadata.get(META_CHAIN));
            return java.util.Optional.of(new SnapshotRecord(manifest, position, chain,
                    machineMetadata(manifestMetadata)));
        } catch (RuntimeException notAGroupSnapshot) {
            return java.util.Optional.empty();
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
