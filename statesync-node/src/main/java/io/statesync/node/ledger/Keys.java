package io.statesync.node.ledger;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.NamedParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;

/** Ed25519 with the JDK's own provider: key pairs, account ids, signing and verifying. */
public final class Keys {
    /** DER prefix of an X.509 SubjectPublicKeyInfo holding a raw Ed25519 key (OID 1.3.101.112). */
    private static final byte[] X509_PREFIX = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
    };
    /** Length of an Ed25519 signature. */
    public static final int SIGNATURE_LENGTH = 64;
    /** Length of an Ed25519 seed (the private key). */
    public static final int SEED_LENGTH = 32;

    private static final ThreadLocal<Signature> VERIFIER = ThreadLocal.withInitial(() -> newSignature());
    private static final ThreadLocal<KeyFactory> KEY_FACTORY = ThreadLocal.withInitial(() -> {
        try {
            return KeyFactory.getInstance("Ed25519");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    });

    private Keys() {}

    /** A fresh random key pair. */
    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    /**
     * The key pair whose private key is the 32-byte {@code seed}: the same seed gives the same
     * pair on every JVM. Used for well-known keys such as the demo faucet.
     */
    public static KeyPair fromSeed(byte[] seed) {
        if (seed == null || seed.length != SEED_LENGTH) {
            throw new IllegalArgumentException("Ed25519 seed must be " + SEED_LENGTH + " bytes, got "
                    + (seed == null ? "null" : seed.length));
        }
        try {
            // The JDK derives the public key only while generating; feed it the seed as "randomness".
            KeyPairGenerator generator = KeyPairGenerator.getInstance("Ed25519");
            generator.initialize(NamedParameterSpec.ED25519, new SeedRandom(seed));
            KeyPair pair = generator.generateKeyPair();
            byte[] got = ((EdECPrivateKey) pair.getPrivate()).getBytes().orElse(new byte[0]);
            if (!Arrays.equals(got, seed)) {
                throw new IllegalStateException("this JDK's Ed25519 generator did not take the seed as the private key");
            }
            return pair;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    /** The 32-byte SHA-256 of a UTF-8 phrase, handy as a seed: {@code fromSeed(seed("statesync-demo-faucet"))}. */
    public static byte[] seed(String phrase) {
        return Bytes.sha256(phrase.getBytes(StandardCharsets.UTF_8));
    }

    /** The account of a key pair: its raw public key. */
    public static AccountId id(KeyPair pair) {
        return id(pair.getPublic());
    }

    /** The account of an Ed25519 public key. */
    public static AccountId id(PublicKey key) {
        byte[] encoded = key.getEncoded();
        if (encoded == null || encoded.length != X509_PREFIX.length + AccountId.LENGTH
                || !Arrays.equals(encoded, 0, X509_PREFIX.length, X509_PREFIX, 0, X509_PREFIX.length)) {
            throw new IllegalArgumentException("not an Ed25519 public key: " + key.getAlgorithm());
        }
        return AccountId.of(Arrays.copyOfRange(encoded, X509_PREFIX.length, encoded.length));
    }

    /** Signs {@code message} with an Ed25519 private key. */
    public static byte[] sign(PrivateKey key, byte[] message) {
        try {
            Signature signer = newSignature();
            signer.initSign(key);
            signer.update(message);
            return signer.sign();
        } catch (InvalidKeyException e) {
            throw new IllegalArgumentException("not an Ed25519 private key: " + e.getMessage(), e);
        } catch (SignatureException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    /**
     * Signatures found valid lately, by (key, message, signature): a node checks a transaction's
     * signature when it admits it, again when it proposes the block and again when it applies it;
     * Ed25519 verification in the JDK was about half of a node's CPU while the demo filled its
     * state. A hit means these exact bytes verified before, so it is as good as verifying. Only
     * short messages (a transaction signs a 32-byte digest) are remembered; bounded, cleared when full.
     */
    private static final java.util.Set<String> VERIFIED = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final int VERIFIED_MAX = 16_384;
    private static final int MEMO_MAX_MESSAGE = 64;

    /** Whether {@code signature} is {@code account}'s Ed25519 signature of {@code message}; never throws on bad input. */
    public static boolean verify(AccountId account, byte[] message, byte[] signature) {
        if (account == null || message == null || signature == null || signature.length != SIGNATURE_LENGTH) {
            return false;
        }
        if (message.length > MEMO_MAX_MESSAGE) {
            return verifyOnce(account, message, signature);
        }
        byte[] key = new byte[AccountId.LENGTH + 1 + message.length + SIGNATURE_LENGTH];
        System.arraycopy(account.raw(), 0, key, 0, AccountId.LENGTH);
        key[AccountId.LENGTH] = (byte) message.length;
        System.arraycopy(message, 0, key, AccountId.LENGTH + 1, message.length);
        System.arraycopy(signature, 0, key, AccountId.LENGTH + 1 + message.length, SIGNATURE_LENGTH);
        String memo = new String(key, java.nio.charset.StandardCharsets.ISO_8859_1);
        if (VERIFIED.contains(memo)) {
            return true;
        }
        boolean valid = verifyOnce(account, message, signature);
        if (valid) {
            if (VERIFIED.size() >= VERIFIED_MAX) {
                VERIFIED.clear();
            }
            VERIFIED.add(memo);
        }
        return valid;
    }

    private static boolean verifyOnce(AccountId account, byte[] message, byte[] signature) {
        byte[] spki = Arrays.copyOf(X509_PREFIX, X509_PREFIX.length + AccountId.LENGTH);
        System.arraycopy(account.raw(), 0, spki, X509_PREFIX.length, AccountId.LENGTH);
        try {
            PublicKey key = KEY_FACTORY.get().generatePublic(new X509EncodedKeySpec(spki));
            Signature verifier = VERIFIER.get();
            verifier.initVerify(key);
            verifier.update(message);
            return verifier.verify(signature);
        } catch (InvalidKeySpecException | InvalidKeyException | SignatureException | RuntimeException e) {
            // A key that is not a curve point, or a malformed signature, is simply not valid.
            return false;
        }
    }

    private static Signature newSignature() {
        try {
            return Signature.getInstance("Ed25519");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    /** A "random" source that yields the seed, so the generator's private key is the seed. */
    private static final class SeedRandom extends SecureRandom {
        private final byte[] seed;

        SeedRandom(byte[] seed) {
            this.seed = seed.clone();
        }

        @Override
        public void nextBytes(byte[] bytes) {
            if (bytes.length != seed.length) {
                throw new IllegalStateException("Ed25519 generator asked for " + bytes.length + " random bytes, expected "
                        + seed.length);
            }
            System.arraycopy(seed, 0, bytes, 0, seed.length);
        }
    }
}
