package io.statesync.core.testing;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway certificate authority for TLS tests: made fresh in a test's temporary folder, so no
 * key is ever checked in. Issues EC P-256 certificates (quick to make) and writes them as the PEM
 * files a TLS configuration reads: a chain file and an unencrypted PKCS#8 key file.
 */
public final class TestCerts {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());
    private final Path dir;
    private final String name;
    private final KeyPair keys;
    private final X509Certificate cert;
    private final Path caFile;

    /** A certificate with its PEM chain (the certificate, then the CA's) and key files. */
    public record Issued(Path chain, Path key, X509Certificate cert) {
    }

    private TestCerts(Path dir, String name, KeyPair keys, X509Certificate cert, Path caFile) {
        this.dir = dir;
        this.name = name;
        this.keys = keys;
        this.cert = cert;
        this.caFile = caFile;
    }

    /** A new CA called {@code name}, its certificate written to {@code dir/<name>-ca.pem}. */
    public static TestCerts authority(Path dir, String name) throws IOException {
        KeyPair keys = ecKeys();
        X500Name subject = new X500Name("CN=" + name);
        X509Certificate cert = sign(new JcaX509v3CertificateBuilder(subject, serial(), notBefore(), notAfter(), subject,
                keys.getPublic()), keys.getPrivate(), b -> {
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        });
        Files.createDirectories(dir);
        Path caFile = dir.resolve(name + "-ca.pem");
        Files.writeString(caFile, pem("CERTIFICATE", encoded(cert)));
        return new TestCerts(dir, name, keys, cert, caFile);
    }

    /** The PEM file of this CA's certificate: the bundle a peer trusts. */
    public Path caFile() {
        return caFile;
    }

    /**
     * Issues a certificate for both server and client use, valid for {@code names}: each is an
     * IP address if it looks like one (an {@code IP:} entry), a DNS name otherwise. Files are
     * {@code dir/<file>.pem} (chain) and {@code dir/<file>-key.pem}.
     */
    public Issued issue(String file, String... names) throws IOException {
        KeyPair leaf = ecKeys();
        X500Name subject = new X500Name("CN=" + (names.length > 0 ? names[0] : file));
        List<GeneralName> sans = new ArrayList<>();
        for (String n : names) {
            sans.add(new GeneralName(n.matches("[0-9.]+") || n.contains(":") ? GeneralName.iPAddress : GeneralName.dNSName,
                    n));
        }
        X509Certificate issued = sign(new JcaX509v3CertificateBuilder(new X500Name("CN=" + name), serial(), notBefore(),
                notAfter(), subject, leaf.getPublic()), keys.getPrivate(), b -> {
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            if (!sans.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(sans.toArray(GeneralName[]::new)));
            }
        });
        Path chain = dir.resolve(file + ".pem");
        Path key = dir.resolve(file + "-key.pem");
        Files.writeString(chain, pem("CERTIFICATE", encoded(issued)) + pem("CERTIFICATE", encoded(cert)));
        writeKey(key, leaf.getPrivate());
        return new Issued(chain, key, issued);
    }

    /** Writes {@code key} as an unencrypted PKCS#8 PEM file. */
    public static void writeKey(Path file, PrivateKey key) throws IOException {
        Files.writeString(file, pem("PRIVATE KEY", key.getEncoded()));
    }

    /** {@code der} as a PEM block with 64-character lines. */
    public static String pem(String label, byte[] der) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
    }

    private interface Extensions {
        void add(X509v3CertificateBuilder b) throws IOException;
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer, Extensions ext)
            throws IOException {
        try {
            ext.add(b);
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        } catch (OperatorCreationException | GeneralSecurityException e) {
            throw new IOException("cannot make a test certificate: " + e, e);
        }
    }

    private static byte[] encoded(X509Certificate c) throws IOException {
        try {
            return c.getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static KeyPair ecKeys() throws IOException {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static BigInteger serial() {
        return BigInteger.valueOf(SERIAL.incrementAndGet());
    }

    private static Date notBefore() {
        // A little in the past, so that clocks a second apart agree it is valid.
        return Date.from(Instant.now().minus(Duration.ofHours(1)));
    }

    private static Date notAfter() {
        return Date.from(Instant.now().plus(Duration.ofDays(2)));
    }
}
