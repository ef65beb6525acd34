/**
 * Gossip membership: which nodes are alive and the small signed-elsewhere metadata each publishes.
 * Public: {@link io.statesync.discovery.membership.Membership} and its value types, and
 * {@link io.statesync.discovery.membership.ScaleCubeMembership}, the implementation on ScaleCube
 * cluster. Everything about ScaleCube (its codecs, transport, events) stays package-private so
 * the library can be replaced.
 */
package io.statesync.discovery.membership;
