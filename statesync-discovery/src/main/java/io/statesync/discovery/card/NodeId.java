package io.statesync.discovery.card;

import io.statesync.core.cid.Cid;
import java.security.PublicKey;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * A node's identity: a fingerprint of its Ed25519 public key ({@code n} + 32 base64url
 * characters of its sha2-256). Because the id is derived from the key, a card claiming an id
 * must be signed by that id's key, so trusting an id is trusting a key.
 */
public record NodeId(String value) implements Comparable<NodeId> {
    private static final Pattern FORM = Pattern.compile("n[A-Za-z0-9_-]{32}");

    public NodeId {
        if (value == null || !FORM.matcher(value).matches()) {
            throw new IllegalArgumentException("not a node id (n + 32 base64url characters): " + value);
        }
    }

    /** The id of the holder of {@code key}. */
    public static NodeId of(PublicKey key) {
        byte[] digest = Cid.newDigest().digest(key.getEncoded());
        return new NodeId("n" + Base64.getUrlEncoder().withoutPadding().encodeToString(digest).substring(0, 32));
    }

    @Override
    public int compareTo(NodeId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
