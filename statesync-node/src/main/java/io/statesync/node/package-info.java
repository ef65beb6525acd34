/**
 * The reference node: several threads (parallel chains), each a replicated group whose state is
 * a RocksDB ledger with an incrementally maintained state root; a block producer on each
 * thread's leader; the state-sync service that shares and loads verified state snapshots; and
 * the node's HTTP API.
 */
package io.statesync.node;
