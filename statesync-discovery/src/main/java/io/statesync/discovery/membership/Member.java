package io.statesync.discovery.membership;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One node of the gossip cluster as this node last saw it.
 *
 * <p>The id names one run of a node: a restarted node joins under a new id, so a stale record of
 * its previous run can never be mistaken for it. Durable identity (keys, share URLs) belongs in
 * the metadata, which is opaque bytes here.
 *
 * @param id this run's member id, unique in the cluster
 * @param address where the member's gossip transport listens
 * @param metadata the bytes the member last published; copied in and out, so a record never
 *                 changes under its holder
 */
public record Member(String id, InetSocketAddress address, byte[] metadata) {

    public Member {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(address, "address");
        metadata = metadata == null ? new byte[0] : metadata.clone();
    }

    /** A copy of the published bytes. */
    @Override
    public byte[] metadata() {
        return metadata.clone();
    }

    /** Records compare arrays by reference; members compare their metadata by content. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Member m
                && id.equals(m.id)
                && address.equals(m.address)
                && Arrays.equals(metadata, m.metadata);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, address, Arrays.hashCode(metadata));
    }

    @Override
    public String toString() {
        String head = HexFormat.of().formatHex(metadata, 0, Math.min(metadata.length, 8));
        return "Member[" + id + "@" + address.getHostString() + ":" + address.getPort()
                + ", metadata=" + metadata.length + "B " + head + (metadata.length > 8 ? "…" : "") + "]";
    }
}
