package io.statesync.groups.sync;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What every member's sync strategy must agree on, as a canonical human-readable description such
 * as {@code "LogReplaySync(batch=2000,fetchTimeout=25000ms)"}. Its digest is part of the group id;
 * the description is what a member that cannot join is told.
 */
public record SyncSignature(String description) {
    public SyncSignature {
        if (description == null || description.isBlank()) {
            throw new IllegalArgumentException("a sync signature needs a description");
        }
    }

    /** SHA-256 of the description, hex. */
    public String digest() {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(description.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return description;
    }
}
