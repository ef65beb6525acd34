package io.statesync.transfer.tls;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a process's TLS material lives, as PEM files, before it is read.
 *
 * @param certChain this process's certificate, then any intermediates (PEM {@code CERTIFICATE}
 *     blocks); null for a client that only checks servers
 * @param privateKey the certificate's key, unencrypted PKCS#8 PEM ({@code BEGIN PRIVATE KEY});
 *     null exactly when {@code certChain} is
 * @param trustBundle the CA certificates that sign peers' certificates (PEM); null to trust the
 *     JDK's default CAs, which a server asking for client certificates cannot do
 * @param clientAuth whether a server built from these files asks clients for a certificate
 */
public record TlsFiles(Path certChain, Path privateKey, Path trustBundle, ClientAuth clientAuth) {
    public TlsFiles {
        Objects.requireNonNull(clientAuth, "clientAuth");
        if ((certChain == null) != (privateKey == null)) {
            throw new IllegalArgumentException("a TLS certificate and its key come together: give both or neither");
        }
        if (clientAuth != ClientAuth.NONE && trustBundle == null) {
            throw new IllegalArgumentException("client certificates (" + clientAuth.spelling()
                    + ") are checked against a CA bundle: give one");
        }
    }

    /** A client's files: trust {@code caBundle} (null: the JDK's CAs) and present no certificate. */
    public static TlsFiles trusting(Path caBundle) {
        return new TlsFiles(null, null, caBundle, ClientAuth.NONE);
    }

    /** This with a certificate chain and its key, presented as a server and, under mTLS, as a client. */
    public TlsFiles withIdentity(Path chain, Path key) {
        return new TlsFiles(chain, key, trustBundle, clientAuth);
    }

    /** This with another client-certificate policy. */
    public TlsFiles withClientAuth(ClientAuth v) {
        return new TlsFiles(certChain, privateKey, trustBundle, v);
    }

    /** Reads and checks every file; see {@link Tls#load}. */
    public Tls load() throws TlsException {
        return Tls.load(this);
    }
}
