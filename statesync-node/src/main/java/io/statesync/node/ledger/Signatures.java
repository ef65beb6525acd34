package io.statesync.node.ledger;

import java.util.List;
import java.util.stream.IntStream;

/**
 * Verifies transaction signatures ahead of execution. A signature does not depend on the state,
 * so a block's signatures are checked in parallel (on the common fork-join pool) and only the
 * state-dependent checks run in order. Ed25519 verification is most of the cost of a transaction.
 */
final class Signatures {
    /** How many pending transactions propose verifies at once. */
    static final int WINDOW = 512;
    /** Below this many, parallelism costs more than it saves. */
    private static final int PARALLEL_THRESHOLD = 8;

    private Signatures() {}

    /** Whether each of {@code txs[from, to)} carries a valid signature (false for null). */
    static boolean[] verify(List<Transaction> txs, int from, int to) {
        boolean[] valid = new boolean[to - from];
        IntStream range = IntStream.range(from, to);
        if (valid.length >= PARALLEL_THRESHOLD) {
            range = range.parallel();
        }
        range.forEach(i -> {
            Transaction tx = txs.get(i);
            valid[i - from] = tx != null && tx.signatureValid();
        });
        return valid;
    }
}
