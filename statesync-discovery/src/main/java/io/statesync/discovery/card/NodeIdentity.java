package io.statesync.discovery.card;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;

/** A node's Ed25519 key pair (the JDK's own Ed25519), which signs its cards. */
public final class NodeIdentity {
    private final KeyPair keys;
    private final NodeId id;

    private NodeIdentity(KeyPair keys) {
        this.keys = keys;
        this.id = NodeId.of(keys.getPublic());
    }

    /** A fresh random identity. */
    public static NodeIdentity generate() {
        try {
            return new NodeIdentity(KeyPairGenerator.getInstance("Ed25519").generateKeyPair());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    /**
     * Loads the identity kept in {@code file} (PKCS#8 private key, then X.509 public key, each
     * prefixed by its length), creating it with mode 0600 if absent, so a restarted node keeps
     * its id.
     */
    public static NodeIdentity loadOrCreate(Path file) throws IOException {
        if (Files.exists(file)) {
            byte[] all = Files.readAllBytes(file);
            try {
                int privLen = ((all[0] & 0xff) << 8) | (all[1] & 0xff);
                byte[] priv = java.util.Arrays.copyOfRange(all, 2, 2 + privLen);
                byte[] pub = java.util.Arrays.copyOfRange(all, 2 + privLen, all.length);
                KeyFactory f = KeyFactory.getInstance("Ed25519");
                PrivateKey p = f.generatePrivate(new PKCS8EncodedKeySpec(priv));
                PublicKey k = f.generatePublic(new X509EncodedKeySpec(pub));
                return new NodeIdentity(new KeyPair(k, p));
            } catch (GeneralSecurityException | RuntimeException e) {
                throw new IOException("cannot read the node identity in " + file + ": " + e.getMessage(), e);
            }
        }
        NodeIdentity fresh = generate();
        byte[] priv = fresh.keys.getPrivate().getEncoded();
        byte[] pub = fresh.keys.getPublic().getEncoded();
        byte[] all = new byte[2 + priv.length + pub.length];
        all[0] = (byte) (priv.length >>> 8);
        all[1] = (byte) priv.length;
        System.arraycopy(priv, 0, all, 2, priv.length);
        System.arraycopy(pub, 0, all, 2 + priv.length, pub.length);
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(temp, all);
        try {
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // Not a POSIX file system.
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        return fresh;
    }

    public NodeId id() {
        return id;
    }

    public PublicKey publicKey() {
        return keys.getPublic();
    }

    /** An Ed25519 signature of {@code bytes}. */
    byte[] sign(byte[] bytes) {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(keys.getPrivate());
            s.update(bytes);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }
}
