package io.statesync.transfer.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a TLS file can be wrong ends in one line naming the file. */
class TlsFilesTest {
    @TempDir
    Path tmp;
    private TestCerts ca;
    private TestCerts.Issued server;

    @BeforeEach
    void setUp() throws Exception {
        ca = TestCerts.authority(tmp, "ca");
        server = ca.issue("server", "localhost", "127.0.0.1");
    }

    private static String refused(TlsFiles files) {
        TlsException e = assertThrows(TlsException.class, files::load);
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void goodFilesLoad() throws Exception {
        Tls tls = new TlsFiles(server.chain(), server.key(), ca.caFile(), ClientAuth.REQUIRE).load();
        assertTrue(tls.hasIdentity());
        assertEquals(ClientAuth.REQUIRE, tls.clientAuth());
        assertTrue(tls.serverContext().isServer());
        assertEquals("TLS", tls.clientContext().getProtocol());
        assertFalse(TlsFiles.trusting(ca.caFile()).load().hasIdentity());
    }

    @Test
    void aMissingFileIsNamed() {
        Path missing = tmp.resolve("nope.pem");
        assertEquals("cannot read TLS certificate " + missing + ": no such file",
                refused(new TlsFiles(missing, server.key(), null, ClientAuth.NONE)));
        assertEquals("cannot read TLS key " + missing + ": no such file",
                refused(new TlsFiles(server.chain(), missing, null, ClientAuth.NONE)));
        assertEquals("cannot read TLS CA bundle " + missing + ": no such file", refused(TlsFiles.trusting(missing)));
    }

    @Test
    void garbageIsNotPem() throws Exception {
        Path junk = Files.writeString(tmp.resolve("junk.pem"), "hello, I am not a certificate\n");
        assertEquals("cannot read TLS key " + junk + ": not a PEM file (no -----BEGIN ...----- block)",
                refused(new TlsFiles(server.chain(), junk, null, ClientAuth.NONE)));
        Path badDer = Files.writeString(tmp.resolve("bad-der.pem"), TestCerts.pem("CERTIFICATE", new byte[] {1, 2, 3}));
        assertEquals("cannot read TLS CA bundle " + badDer + ": certificate 1 is not a valid X.509 certificate",
                refused(TlsFiles.trusting(badDer)));
    }

    @Test
    void aKeyFileThatIsNotAPkcs8KeyIsRefused() throws Exception {
        // A certificate where the key should be.
        assertTrue(refused(new TlsFiles(server.chain(), server.chain(), null, ClientAuth.NONE))
                .startsWith("cannot read TLS key " + server.chain() + ": not a PKCS#8 PEM private key"));
        Path rsa = Files.writeString(tmp.resolve("rsa.pem"), TestCerts.pem("RSA PRIVATE KEY", new byte[] {1}));
        assertTrue(refused(new TlsFiles(server.chain(), rsa, null, ClientAuth.NONE)).contains("is not PKCS#8"));
        Path junkKey = Files.writeString(tmp.resolve("junk-key.pem"), TestCerts.pem("PRIVATE KEY", new byte[] {1, 2}));
        assertTrue(refused(new TlsFiles(server.chain(), junkKey, null, ClientAuth.NONE))
                .startsWith("cannot read TLS key " + junkKey + ": not a PKCS#8 private key"));
    }

    @Test
    void aKeyOfAnotherCertificateIsRefused() throws Exception {
        TestCerts.Issued other = ca.issue("other", "other.example");
        assertEquals("TLS key " + other.key() + " does not belong to the certificate in " + server.chain(),
                refused(new TlsFiles(server.chain(), other.key(), null, ClientAuth.NONE)));
    }

    @Test
    void inconsistentSettingsAreRefusedAtOnce() {
        assertThrows(IllegalArgumentException.class, () -> new TlsFiles(server.chain(), null, null, ClientAuth.NONE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TlsFiles(server.chain(), server.key(), null, ClientAuth.REQUIRE));
        assertTrue(e.getMessage().contains("CA bundle"), e.getMessage());
        assertEquals(ClientAuth.WANT, ClientAuth.parse(" Want "));
        assertThrows(IllegalArgumentException.class, () -> ClientAuth.parse("always"));
    }
}
