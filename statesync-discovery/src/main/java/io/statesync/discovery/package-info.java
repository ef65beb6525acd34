/**
 * Which URLs can serve the state a node needs right now, and which of them it trusts: gossip
 * membership, signed node cards, the trusted set, the snapshot catalog and source resolution.
 */
package io.statesync.discovery;
