package io.statesync.discovery.membership;

import java.util.List;
import java.util.function.Consumer;

/**
 * Gossip membership: which other nodes are alive, and the small metadata each one publishes.
 * The library underneath ({@link ScaleCubeMembership}) is replaceable; callers see only this.
 *
 * <p>Metadata is opaque, bounded bytes ({@link MembershipConfig#maxMetadataBytes()}); a layer
 * above signs and parses it. Gossip itself authenticates nothing: anyone who can reach the port
 * can claim to be a member, so trust must come from what the metadata proves.
 */
public interface Membership extends AutoCloseable {

    /** This node: its id, its gossip address and the metadata it last published. */
    Member self();

    /**
     * Sets this node's metadata and spreads it: the others see {@link MembershipEvent.Updated}
     * with these bytes. Returns at once; the spreading happens by gossip.
     *
     * @throws IllegalArgumentException if the bytes exceed {@link MembershipConfig#maxMetadataBytes()}
     * @throws IllegalStateException after {@link #close()}
     */
    void publish(byte[] metadata);

    /** The other live members with their latest metadata; neither this node nor members that left. */
    List<Member> members();

    /**
     * Delivers every later event to {@code listener}, in order, on one thread owned by this
     * membership (never the gossip protocol's own thread, so a slow listener cannot stall failure
     * detection). A listener that throws is logged and keeps receiving. Past events are not
     * replayed: read {@link #members()} for the current view.
     *
     * @return closing it stops the deliveries
     */
    AutoCloseable subscribe(Consumer<MembershipEvent> listener);

    /**
     * Leaves gracefully (the others see {@link MembershipEvent.Left} at once instead of waiting
     * for failure detection), then stops the transport and waits until every thread of this
     * membership has ended. Idempotent.
     */
    @Override
    void close();
}
