package io.statesync.groups;

import io.statesync.groups.sync.SyncSignature;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * A group's id, derived from what members must agree on: the group name, the state machine's type
 * tag and the sync strategy's signature. Members that differ in any of them get different ids and
 * cannot form one group; {@link Group} checks peers at start so such a member learns why.
 */
public record GroupId(UUID uuid) {
    /** SHA-256 over the three inputs, length-prefixed so no two input triples collide, cut to 128 bits. */
    public static GroupId derive(String name, String typeTag, SyncSignature sync) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String part : new String[] {"statesync-group-v1", name, typeTag, sync.digest()}) {
                byte[] b = part.getBytes(StandardCharsets.UTF_8);
                sha.update(ByteBuffer.allocate(4).putInt(b.length).array());
                sha.update(b);
            }
            ByteBuffer d = ByteBuffer.wrap(sha.digest());
            return new GroupId(new UUID(d.getLong(), d.getLong()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** 32 hex digits, the form used in paths and URLs. */
    @Override
    public String toString() {
        return uuid.toString().replace("-", "");
    }
}
