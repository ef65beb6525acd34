package io.statesync.node.ledger;

import java.util.Collections;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/** The initial balances of a thread; every account starts with nonce 0. */
public record Genesis(SortedMap<AccountId, Long> balances) {
    public Genesis {
        Objects.requireNonNull(balances, "balances");
        TreeMap<AccountId, Long> copy = new TreeMap<>();
        balances.forEach((id, balance) -> {
            Objects.requireNonNull(id, "genesis account");
            if (balance == null || balance < 0) {
                throw new IllegalArgumentException("genesis balance of " + id + " must not be negative, got " + balance);
            }
            copy.put(id, balance);
        });
        balances = Collections.unmodifiableSortedMap(copy);
    }

    /** A genesis with one funded account. */
    public static Genesis faucet(AccountId faucet, long balance) {
        TreeMap<AccountId, Long> map = new TreeMap<>();
        map.put(faucet, balance);
        return new Genesis(map);
    }

    /** The state hash of the genesis state. */
    LtHash hash() {
        LtHash hash = new LtHash();
        balances.forEach((id, balance) -> hash.add(StateLayout.accountElement(id, new Account(balance, 0))));
        return hash;
    }

    /** The logical size in bytes of the genesis state. */
    long stateBytes() {
        return balances.size() * StateLayout.accountSize();
    }
}
