package io.statesync.node.ledger;

import java.util.List;
import java.util.Objects;

/**
 * A producer's next block and what became of the pending transactions: those executed are in
 * the block, those invalid on the state are {@code rejected} with the reason, and those not
 * tried because a limit was reached are {@code leftOver}, in their original order.
 */
public record Proposal(Block block, List<Rejected> rejected, List<Transaction> leftOver) {
    public Proposal {
        Objects.requireNonNull(block, "block");
        rejected = List.copyOf(rejected);
        leftOver = List.copyOf(leftOver);
    }

    /** A transaction left out of the block, by id, and why. */
    public record Rejected(String txId, String reason) {
        public Rejected {
            Objects.requireNonNull(txId, "txId");
            Objects.requireNonNull(reason, "reason");
        }
    }
}
