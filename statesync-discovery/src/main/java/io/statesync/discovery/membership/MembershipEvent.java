package io.statesync.discovery.membership;

/**
 * A change in the set of live members, as seen by this node. Events about one member arrive in
 * the order this node learned them.
 */
public sealed interface MembershipEvent {

    /** The member the event is about, with its metadata as of the event. */
    Member member();

    /** A member became live and its metadata was fetched. */
    record Joined(Member member) implements MembershipEvent {
    }

    /** A live member published new metadata. */
    record Updated(Member member) implements MembershipEvent {
    }

    /** A member announced that it is leaving (a graceful close). */
    record Left(Member member) implements MembershipEvent {
    }

    /** Failure detection removed a member that stopped answering without saying goodbye. */
    record Failed(Member member) implements MembershipEvent {
    }
}
