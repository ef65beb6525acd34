package io.statesync.transfer.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the PEM files TLS is configured with. Written out here rather than left to a library so
 * that every way a file can be wrong ends in one line naming the file and what is wrong with it.
 */
final class Pem {
    /** A PEM file is a few kilobytes; anything this large is not one. */
    private static final long MAX_BYTES = 1 << 20;
    private static final Pattern BLOCK =
            Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    /** Key algorithms a PKCS#8 key is tried as, the common ones first. */
    private static final List<String> KEY_ALGORITHMS = List.of("EC", "RSA", "Ed25519", "Ed448", "RSASSA-PSS");

    private Pem() {
    }

    private record Block(String label, byte[] der) {
    }

    /** Every {@code CERTIFICATE} block of {@code file}; at least one. */
    static List<X509Certificate> certificates(Path file, String what) throws TlsException {
        List<Block> blocks = blocks(file, what);
        List<X509Certificate> certs = new ArrayList<>();
        CertificateFactory factory;
        try {
            factory = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new TlsException("this JVM has no X.509 support: " + e.getMessage(), e);
        }
        for (Block b : blocks) {
            if (!b.label().equals("CERTIFICATE")) {
                continue;
            }
            try {
                certs.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(b.der())));
            } catch (CertificateException e) {
                throw new TlsException("cannot read " + what + " " + file + ": certificate " + (certs.size() + 1)
                        + " is not a valid X.509 certificate", e);
            }
        }
        if (certs.isEmpty()) {
            throw new TlsException("cannot read " + what + " " + file + ": no PEM certificate in it "
                    + "(-----BEGIN CERTIFICATE-----)");
        }
        return List.copyOf(certs);
    }

    /** The one unencrypted PKCS#8 private key in {@code file}. */
    static PrivateKey privateKey(Path file) throws TlsException {
        String what = "TLS key";
        List<Block> blocks = blocks(file, what);
        Block key = null;
        for (Block b : blocks) {
            switch (b.label()) {
                case "PRIVATE KEY" -> {
                    if (key != null) {
                        throw new TlsException("cannot read " + what + " " + file + ": it holds more than one key");
                    }
                    key = b;
                }
                case "ENCRYPTED PRIVATE KEY" -> throw new TlsException("cannot read " + what + " " + file
                        + ": the key is encrypted; give an unencrypted PKCS#8 key (BEGIN PRIVATE KEY) that only "
                        + "the node's user can read");
                case "RSA PRIVATE KEY", "EC PRIVATE KEY" -> throw new TlsException("cannot read " + what + " "
                        + file + ": a " + b.label() + " is not PKCS#8; convert it with "
                        + "openssl pkcs8 -topk8 -nocrypt -in " + file.getFileName());
                default -> {
                }
            }
        }
        if (key == null) {
            throw new TlsException("cannot read " + what + " " + file + ": not a PKCS#8 PEM private key "
                    + "(-----BEGIN PRIVATE KEY-----)");
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(key.der());
        for (String algorithm : KEY_ALGORITHMS) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // Not this algorithm (or not one this JVM has): try the next.
            }
        }
        throw new TlsException("cannot read " + what + " " + file + ": not a PKCS#8 private key of a known kind "
                + "(EC, RSA, Ed25519, Ed448)");
    }

    private static List<Block> blocks(Path file, String what) throws TlsException {
        String text;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new TlsException("cannot read " + what + " " + file + ": larger than a PEM file can be");
            }
            text = Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw new TlsException("cannot read " + what + " " + file + ": no such file", e);
        } catch (IOException e) {
            throw new TlsException("cannot read " + what + " " + file + ": " + e.getMessage(), e);
        }
        List<Block> blocks = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            try {
                blocks.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
            } catch (IllegalArgumentException e) {
                throw new TlsException("cannot read " + what + " " + file + ": the " + m.group(1)
                        + " block is not valid base64", e);
            }
        }
        if (blocks.isEmpty()) {
            throw new TlsException("cannot read " + what + " " + file + ": not a PEM file (no -----BEGIN ...----- "
                    + "block)");
        }
        return blocks;
    }
}
