package io.statesync.node.ledger;

import java.security.KeyPair;
import java.util.Objects;

/** A key pair together with the account it controls. */
public record Signer(KeyPair keys, AccountId account) {
    public Signer {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(account, "account");
        if (!Keys.id(keys).equals(account)) {
            throw new IllegalArgumentException("account " + account + " is not the public key of the key pair");
        }
    }

    public static Signer of(KeyPair keys) {
        return new Signer(keys, Keys.id(keys));
    }

    /** A fresh random signer. */
    public static Signer generate() {
        return of(Keys.generate());
    }

    /** The deterministic signer of a phrase: seed = SHA-256(UTF-8 phrase). */
    public static Signer fromPhrase(String phrase) {
        return of(Keys.fromSeed(Keys.seed(phrase)));
    }

    /** Signs {@code message} with this signer's private key. */
    public byte[] sign(byte[] message) {
        return Keys.sign(keys.getPrivate(), message);
    }
}
