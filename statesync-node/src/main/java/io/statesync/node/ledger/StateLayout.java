package io.statesync.node.ledger;

import java.nio.charset.StandardCharsets;

/**
 * How a thread's state sits in RocksDB, and which LtHash element each entry contributes.
 * <pre>
 * a | account[32]              -> u64 balance | u64 nonce                 (16 bytes)
 * d | account[32] | key[1..64] -> value[1..65536]                         (empty values are deleted)
 * m | name                     -> meta: "thread" (name), "head" (u64 height | block id[32] | root[32]),
 *                                 "block" (encoded last applied block), "lthash" (2048 bytes),
 *                                 "size" (u64 sum of key+value bytes of all a/d entries)
 * h | u64 height               -> block id[32]: the blocks this ledger applied (or restored at and
 *                                 above), the newest {@link #HISTORY_BLOCKS} of them
 * </pre>
 * Only a/d entries are state: dumps, restores and the state hash never see m or h entries (a
 * scan from {@code a} stops at the first key past {@code d}).
 * Elements of the state hash: an account is {@code 'A' | account | balance | nonce}, a data
 * entry is {@code 'D' | account | u8 keyLen | key | SHA-256(value)}. Since the stored account
 * value is balance|nonce, an account's element is 'A' followed by its RocksDB key without the
 * prefix and its value, which lets a scan of the raw entries recompute the root.
 */
final class StateLayout {
    static final byte ACCOUNT = 'a';
    static final byte DATA = 'd';
    static final int ACCOUNT_KEY_LENGTH = 1 + AccountId.LENGTH;
    static final int ACCOUNT_VALUE_LENGTH = 16;
    static final int MIN_DATA_KEY_LENGTH = ACCOUNT_KEY_LENGTH + 1;
    static final int MAX_DATA_KEY_LENGTH = ACCOUNT_KEY_LENGTH + Transaction.MAX_KEY_LENGTH;

    static final byte[] META_THREAD = meta("thread");
    static final byte[] META_HEAD = meta("head");
    static final byte[] META_BLOCK = meta("block");
    static final byte[] META_LTHASH = meta("lthash");
    static final byte[] META_SIZE = meta("size");
    static final byte HISTORY = 'h';
    /**
     * Block ids kept per ledger: enough to judge an offered snapshot against this node's own chain
     * (the newest saved states lie within a few save intervals), at 41 bytes a block.
     */
    static final long HISTORY_BLOCKS = 100_000;

    private StateLayout() {}

    private static byte[] meta(String name) {
        return ("m" + name).getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] historyKey(long height) {
        byte[] key = new byte[9];
        key[0] = HISTORY;
        Bytes.putLong(key, 1, height);
        return key;
    }

    static byte[] accountKey(AccountId id) {
        byte[] key = new byte[ACCOUNT_KEY_LENGTH];
        key[0] = ACCOUNT;
        System.arraycopy(id.raw(), 0, key, 1, AccountId.LENGTH);
        return key;
    }

    static byte[] dataKey(AccountId id, byte[] dataKey) {
        byte[] key = new byte[ACCOUNT_KEY_LENGTH + dataKey.length];
        key[0] = DATA;
        System.arraycopy(id.raw(), 0, key, 1, AccountId.LENGTH);
        System.arraycopy(dataKey, 0, key, ACCOUNT_KEY_LENGTH, dataKey.length);
        return key;
    }

    static byte[] encodeAccount(Account account) {
        byte[] value = new byte[ACCOUNT_VALUE_LENGTH];
        Bytes.putLong(value, 0, account.balance());
        Bytes.putLong(value, 8, account.nonce());
        return value;
    }

    static Account decodeAccount(byte[] value) {
        if (value.length != ACCOUNT_VALUE_LENGTH) {
            throw new IllegalStateException("stored account value of " + value.length + " bytes");
        }
        return new Account(Bytes.getLong(value, 0), Bytes.getLong(value, 8));
    }

    /** Bytes an account entry counts towards the logical state size. */
    static long accountSize() {
        return ACCOUNT_KEY_LENGTH + ACCOUNT_VALUE_LENGTH;
    }

    static long dataSize(byte[] dataKey, byte[] value) {
        return ACCOUNT_KEY_LENGTH + dataKey.length + value.length;
    }

    static byte[] accountElement(AccountId id, Account account) {
        byte[] element = new byte[1 + AccountId.LENGTH + ACCOUNT_VALUE_LENGTH];
        element[0] = 'A';
        System.arraycopy(id.raw(), 0, element, 1, AccountId.LENGTH);
        Bytes.putLong(element, 1 + AccountId.LENGTH, account.balance());
        Bytes.putLong(element, 1 + AccountId.LENGTH + 8, account.nonce());
        return element;
    }

    static byte[] dataElement(AccountId id, byte[] dataKey, byte[] value) {
        return dataElementFromRaw(dataKey(id, dataKey), value);
    }

    /** The element of a raw data entry (RocksDB key {@code d|account|key}). */
    static byte[] dataElementFromRaw(byte[] rawKey, byte[] value) {
        int keyLength = rawKey.length - ACCOUNT_KEY_LENGTH;
        byte[] element = new byte[1 + AccountId.LENGTH + 1 + keyLength + 32];
        element[0] = 'D';
        System.arraycopy(rawKey, 1, element, 1, AccountId.LENGTH);
        element[1 + AccountId.LENGTH] = (byte) keyLength;
        System.arraycopy(rawKey, ACCOUNT_KEY_LENGTH, element, 2 + AccountId.LENGTH, keyLength);
        System.arraycopy(Bytes.sha256(value), 0, element, 2 + AccountId.LENGTH + keyLength, 32);
        return element;
    }

    /** The element of a raw account entry (RocksDB key {@code a|account}, value balance|nonce). */
    static byte[] accountElementFromRaw(byte[] rawKey, byte[] value) {
        byte[] element = new byte[1 + AccountId.LENGTH + ACCOUNT_VALUE_LENGTH];
        element[0] = 'A';
        System.arraycopy(rawKey, 1, element, 1, AccountId.LENGTH);
        System.arraycopy(value, 0, element, 1 + AccountId.LENGTH, ACCOUNT_VALUE_LENGTH);
        return element;
    }

    /** Why a raw key is not a well-formed state key, or null when it is. */
    static String invalidKey(byte[] key) {
        if (key.length == 0) {
            return "empty key";
        }
        if (key[0] == ACCOUNT) {
            return key.length == ACCOUNT_KEY_LENGTH ? null
                    : "account key of " + key.length + " bytes, expected " + ACCOUNT_KEY_LENGTH;
        }
        if (key[0] == DATA) {
            return key.length >= MIN_DATA_KEY_LENGTH && key.length <= MAX_DATA_KEY_LENGTH ? null
                    : "data key of " + key.length + " bytes, must be " + MIN_DATA_KEY_LENGTH + " to " + MAX_DATA_KEY_LENGTH;
        }
        return String.format("key with unknown prefix 0x%02x", key[0] & 0xff);
    }

    /**
     * Why a raw entry is not a well-formed state entry, or null when it is. Used where entries
     * come from outside (a dump): it checks lengths and that account fields are not negative.
     */
    static String invalidEntry(byte[] key, byte[] value) {
        String badKey = invalidKey(key);
        if (badKey != null) {
            return badKey;
        }
        if (key[0] == ACCOUNT) {
            if (value.length != ACCOUNT_VALUE_LENGTH) {
                return "account value of " + value.length + " bytes, expected " + ACCOUNT_VALUE_LENGTH;
            }
            if (Bytes.getLong(value, 0) < 0 || Bytes.getLong(value, 8) < 0) {
                return "account with a negative balance or nonce";
            }
            return null;
        }
        if (value.length < 1 || value.length > Transaction.MAX_VALUE_LENGTH) {
            return "data value of " + value.length + " bytes, must be 1 to " + Transaction.MAX_VALUE_LENGTH;
        }
        return null;
    }

    /** The element of a raw a/d entry. */
    static byte[] elementFromRaw(byte[] key, byte[] value) {
        return key[0] == ACCOUNT ? accountElementFromRaw(key, value) : dataElementFromRaw(key, value);
    }
}
