package io.statesync.node.ledger;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Executes transactions on an in-memory overlay over a read-only base state. Each transaction is
 * validated completely before it changes anything, so a rejected one leaves the overlay as it
 * was. At the end the overlay yields the state hash update and the entries to write, computed
 * from each touched entry's original and final value (an entry touched by many transactions
 * costs one remove and one add). Not thread-safe; one per block.
 */
final class Execution {
    /** The committed state under the overlay: the stored value of a raw key, or null. */
    @FunctionalInterface
    interface Base {
        byte[] get(byte[] rawKey);
    }

    /** Original and current stored value of one raw key (null = absent). */
    private static final class Slot {
        final byte[] original;
        byte[] current;

        Slot(byte[] original) {
            this.original = original;
            this.current = original;
        }

        boolean changed() {
            return !Arrays.equals(original, current);
        }
    }

    /** A raw RocksDB key with content equality. */
    private record RawKey(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof RawKey k && Arrays.equals(bytes, k.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }
    }

    private final ThreadId thread;
    private final Base base;
    /** Every key read or written so far, in first-touch order. */
    private final Map<RawKey, Slot> slots = new LinkedHashMap<>();

    Execution(ThreadId thread, Base base) {
        this.thread = thread;
        this.base = base;
    }

    private Slot slot(byte[] rawKey) {
        return slots.computeIfAbsent(new RawKey(rawKey), k -> new Slot(base.get(k.bytes())));
    }

    /** The account as the overlay sees it, or null. */
    Account account(AccountId id) {
        byte[] value = slot(StateLayout.accountKey(id)).current;
        return value == null ? null : StateLayout.decodeAccount(value);
    }

    private void putAccount(AccountId id, Account account) {
        slot(StateLayout.accountKey(id)).current = StateLayout.encodeAccount(account);
    }

    /**
     * Executes {@code tx} if it is valid here and returns null; otherwise returns why not and
     * changes nothing. Never throws on a bad transaction.
     */
    String execute(Transaction tx) {
        return execute(tx, tx != null && tx.signatureValid());
    }

    /**
     * Whether {@code tx} may wait in a pool of pending transactions: the checks of
     * {@link #execute(Transaction)} on the current state, except that a nonce ahead of the
     * sender's is let in (the ones before it may still be pending). Nothing is executed.
     */
    String admit(Transaction tx) {
        if (!tx.thread().equals(thread)) {
            return "wrong thread: transaction is for " + tx.thread() + ", ledger is " + thread;
        }
        if (!tx.signatureValid()) {
            return "bad signature";
        }
        Account sender = account(tx.from());
        if (sender == null) {
            return "unknown account " + tx.from().hex();
        }
        if (tx.nonce() < sender.nonce()) {
            return "nonce " + tx.nonce() + " expected " + sender.nonce() + " or later";
        }
        if (tx instanceof Transaction.Transfer t && sender.balance() < t.amount()) {
            return "overdraft: balance " + sender.balance() + ", amount " + t.amount();
        }
        return null;
    }

    /** As {@link #execute(Transaction)}, with the signature already verified (see {@link Signatures}). */
    String execute(Transaction tx, boolean signatureValid) {
        if (tx == null) {
            return "null transaction";
        }
        if (!tx.thread().equals(thread)) {
            return "wrong thread: transaction is for " + tx.thread() + ", ledger is " + thread;
        }
        if (!signatureValid) {
            return "bad signature";
        }
        Account sender = account(tx.from());
        if (sender == null) {
            return "unknown account " + tx.from().hex();
        }
        if (tx.nonce() != sender.nonce()) {
            return "nonce " + tx.nonce() + " expected " + sender.nonce();
        }
        if (sender.nonce() == Long.MAX_VALUE) {
            return "nonce exhausted";
        }
        return switch (tx) {
            case Transaction.Transfer t -> transfer(t, sender);
            case Transaction.Write w -> write(w, sender);
        };
    }

    private String transfer(Transaction.Transfer t, Account sender) {
        if (sender.balance() < t.amount()) {
            return "overdraft: balance " + sender.balance() + ", amount " + t.amount();
        }
        if (t.to().equals(t.from())) {
            putAccount(t.from(), new Account(sender.balance(), sender.nonce() + 1));
            return null;
        }
        Account recipient = account(t.to());
        long before = recipient == null ? 0 : recipient.balance();
        if (before > Long.MAX_VALUE - t.amount()) {
            return "overflow: recipient balance " + before + " plus amount " + t.amount() + " exceeds "
                    + Long.MAX_VALUE;
        }
        putAccount(t.from(), new Account(sender.balance() - t.amount(), sender.nonce() + 1));
        putAccount(t.to(), new Account(before + t.amount(), recipient == null ? 0 : recipient.nonce()));
        return null;
    }

    private String write(Transaction.Write w, Account sender) {
        Slot data = slot(StateLayout.dataKey(w.from(), w.rawKey()));
        data.current = w.rawValue().length == 0 ? null : w.rawValue();
        putAccount(w.from(), new Account(sender.balance(), sender.nonce() + 1));
        return null;
    }

    /**
     * Folds every change into {@code hash} (remove the original element, add the final one)
     * and returns the change of the logical state size in bytes.
     */
    long updateHash(LtHash hash) {
        long sizeDelta = 0;
        for (Map.Entry<RawKey, Slot> e : slots.entrySet()) {
            Slot slot = e.getValue();
            if (!slot.changed()) {
                continue;
            }
            byte[] key = e.getKey().bytes();
            if (slot.original != null) {
                hash.remove(StateLayout.elementFromRaw(key, slot.original));
                sizeDelta -= key.length + slot.original.length;
            }
            if (slot.current != null) {
                hash.add(StateLayout.elementFromRaw(key, slot.current));
                sizeDelta += key.length + slot.current.length;
            }
        }
        return sizeDelta;
    }

    /** Receives each changed entry: the final value, or null for a deletion. */
    @FunctionalInterface
    interface Sink {
        void accept(byte[] rawKey, byte[] valueOrNull) throws Exception;
    }

    void forEachChange(Sink sink) throws Exception {
        for (Map.Entry<RawKey, Slot> e : slots.entrySet()) {
            if (e.getValue().changed()) {
                sink.accept(e.getKey().bytes(), e.getValue().current);
            }
        }
    }
}
