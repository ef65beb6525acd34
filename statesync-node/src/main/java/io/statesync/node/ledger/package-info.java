/**
 * The ledger state of one thread (a parallel chain): accounts, balances and account data in a
 * RocksDB of its own, with a state root maintained incrementally on every write.
 *
 * <ul>
 *   <li>{@link io.statesync.node.ledger.Ledger} is the one entry point: open (genesis on an
 *       empty database), {@code propose} (producer side, writes nothing), {@code apply}
 *       (re-executes a block and checks its state root), {@code capture} and {@code restore}
 *       (canonical dumps for state sync), {@code recomputeRoot} (full scan).</li>
 *   <li>The state root is the SHA-256 of an {@link io.statesync.node.ledger.LtHash}, a
 *       homomorphic hash of the set of entries: a change removes the old entry's element and
 *       adds the new one, so a block costs time in what it touches, not in the state's size,
 *       and a restore recomputes the same root from a scan in any order.</li>
 *   <li>{@link io.statesync.node.ledger.Transaction}s (transfers and account-data writes) are
 *       Ed25519-signed over their encoding without the signature, which includes the thread;
 *       a sender's nonce orders its transactions. {@link io.statesync.node.ledger.Block}s are
 *       named by the SHA-256 of their encoding, which is also their raw CID's digest.</li>
 *   <li>Codecs are strict and bounded; malformed input is a one-line
 *       {@link io.statesync.node.ledger.MalformedException}, never an unchecked crash.</li>
 * </ul>
 */
package io.statesync.node.ledger;
