package io.statesync.discovery.card;

import io.statesync.core.cid.Cid;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A snapshot a node holds and serves: its root CID and its metadata. The well-known metadata
 * keys are {@link #GROUP} (group or thread id), {@link #HEIGHT} (height or log index),
 * {@link #BLOCK} (block id) and {@link #STATE_ROOT}.
 */
public record SnapshotAd(Cid root, Map<String, String> metadata) {
    public static final String GROUP = "group";
    public static final String HEIGHT = "height";
    public static final String BLOCK = "block";
    public static final String STATE_ROOT = "stateRoot";

    public SnapshotAd {
        Objects.requireNonNull(root, "root");
        metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
    }

    /** The group or thread this snapshot belongs to, or null. */
    public String group() {
        return metadata.get(GROUP);
    }

    /** The height or log index, or -1 when absent or not a number. */
    public long height() {
        try {
            String h = metadata.get(HEIGHT);
            return h == null ? -1 : Long.parseLong(h);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
