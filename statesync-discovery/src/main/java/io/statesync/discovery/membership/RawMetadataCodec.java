package io.statesync.discovery.membership;

import io.scalecube.cluster.metadata.MetadataCodec;
import java.nio.ByteBuffer;

/**
 * Metadata as raw bytes. Replaces ScaleCube's default codec, which is Java serialization and would
 * turn every peer's metadata into a chance to run code here. The local metadata object is always
 * a {@code byte[]} (set by {@link ScaleCubeMembership#publish}); remote metadata stays bytes.
 */
final class RawMetadataCodec implements MetadataCodec {

    private final int maxBytes;

    RawMetadataCodec(int maxBytes) {
        this.maxBytes = maxBytes;
    }

    /** A copy of the bytes; refuses more than the limit (the wire codec drops those before this). */
    @Override
    public Object deserialize(ByteBuffer buffer) {
        if (buffer == null) {
            return new byte[0];
        }
        if (buffer.remaining() > maxBytes) {
            throw new IllegalArgumentException("metadata of " + buffer.remaining() + " bytes exceeds the limit of "
                    + maxBytes);
        }
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }

    @Override
    public ByteBuffer serialize(Object metadata) {
        return switch (metadata) {
            case null -> ByteBuffer.allocate(0);
            case byte[] bytes -> ByteBuffer.wrap(bytes.clone());
            case ByteBuffer buffer -> {
                ByteBuffer copy = ByteBuffer.allocate(buffer.remaining());
                copy.put(buffer.duplicate()).flip();
                yield copy;
            }
            default -> throw new IllegalArgumentException("metadata must be byte[] or ByteBuffer, not "
                    + metadata.getClass().getName());
        };
    }
}
