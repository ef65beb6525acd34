package io.statesync.node.ledger;

/** An account's balance and the nonce its next transaction must carry. */
public record Account(long balance, long nonce) {
    public Account {
        if (balance < 0) {
            throw new IllegalArgumentException("account balance must not be negative, got " + balance);
        }
        if (nonce < 0) {
            throw new IllegalArgumentException("account nonce must not be negative, got " + nonce);
        }
    }
}
