package io.statesync.transfer.tls;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.net.IDN;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS material read from {@link TlsFiles} and checked: the contexts a server and a client are
 * built from. Everything is read once, at {@link #load}, so that a bad file stops a process at
 * start with one line rather than failing the first handshake. Immutable; share one instance.
 *
 * <p>A client built from this checks that the server's certificate names the host it dialled
 * (endpoint identification "HTTPS"), trusts only the configured bundle when there is one, and
 * presents this certificate when a server asks for one (mTLS).
 */
public final class Tls {
    /** Only guards the in-memory key store the JDK's key manager reads; never written anywhere. */
    private static final char[] IN_MEMORY = "statesync".toCharArray();

    private final TlsFiles files;
    private final List<X509Certificate> chain;
    private final PrivateKey key;
    private final List<X509Certificate> trust;
    /** Null when there is no certificate to serve with. */
    private final SslContext server;
    private final SSLContext client;

    private Tls(TlsFiles files, List<X509Certificate> chain, PrivateKey key, List<X509Certificate> trust)
            throws TlsException {
        this.files = files;
        this.chain = chain;
        this.key = key;
        this.trust = trust;
        this.server = key == null ? null : buildServer();
        this.client = buildClient();
    }

    /**
     * Reads and checks the files: every certificate parses, the key is a PKCS#8 key and belongs to
     * the first certificate of the chain.
     *
     * @throws TlsException naming the file that is wrong and how, in one line
     */
    public static Tls load(TlsFiles files) throws TlsException {
        Objects.requireNonNull(files, "files");
        List<X509Certificate> chain = List.of();
        PrivateKey key = null;
        if (files.certChain() != null) {
            chain = Pem.certificates(files.certChain(), "TLS certificate");
            key = Pem.privateKey(files.privateKey());
            checkPair(key, chain.get(0), files);
        }
        List<X509Certificate> trust = files.trustBundle() == null
                ? List.of() : Pem.certificates(files.trustBundle(), "TLS CA bundle");
        return new Tls(files, chain, key, trust);
    }

    /** The files this was read from. */
    public TlsFiles files() {
        return files;
    }

    /** Whether there is a certificate to serve with (and, under mTLS, to present as a client). */
    public boolean hasIdentity() {
        return key != null;
    }

    public ClientAuth clientAuth() {
        return files.clientAuth();
    }

    /**
     * The Netty context a TLS listener wraps each connection in.
     *
     * @throws IllegalStateException if these files have no certificate and key
     */
    public SslContext serverContext() {
        if (server == null) {
            throw new IllegalStateException("TLS without a certificate and key cannot serve");
        }
        return server;
    }

    /** The JDK context a client opens connections with: the configured trust, and this certificate for mTLS. */
    public SSLContext clientContext() {
        return client;
    }

    /**
     * Wraps a connected socket in a client TLS socket to {@code host}, with host-name checking
     * and SNI, and completes the handshake (within the socket's read timeout) so that a refused
     * certificate fails here with a message naming the server.
     *
     * @param tls the trust and client certificate to use; null for the JDK's default CAs and none
     */
    public static SSLSocket connect(Tls tls, Socket connected, String host, int port) throws IOException {
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        SSLContext ctx;
        try {
            ctx = tls == null ? SSLContext.getDefault() : tls.client;
        } catch (GeneralSecurityException e) {
            throw new IOException("this JVM has no default TLS context: " + e.getMessage(), e);
        }
        SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(connected, bare, port, true);
        try {
            s.setSSLParameters(clientParameters(s.getSSLParameters(), bare));
            s.startHandshake();
            return s;
        } catch (SSLException e) {
            s.close();
            SSLHandshakeException named = new SSLHandshakeException("TLS handshake with " + host + ":" + port
                    + " failed: " + oneLine(e));
            named.initCause(e);
            throw named;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /**
     * A {@code java.net.http} client builder that trusts {@code tls}'s CA bundle and presents its
     * certificate to a server that asks; with null, the JDK's defaults. Such a client checks the
     * server's certificate against the host name of each URL by itself.
     */
    public static HttpClient.Builder httpClient(Tls tls) {
        HttpClient.Builder b = HttpClient.newBuilder();
        if (tls != null) {
            b.sslContext(tls.client);
        }
        return b;
    }

    /**
     * {@code base} with the server's certificate checked against the host name dialled: without
     * it any certificate the CA signed, for any host, would pass.
     */
    public static SSLParameters clientParameters(SSLParameters base, String host) {
        base.setEndpointIdentificationAlgorithm("HTTPS");
        String bare = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        // SNI carries host names only, never address literals (RFC 6066 §3).
        if (!bare.isEmpty() && !isAddressLiteral(bare)) {
            try {
                base.setServerNames(List.of(new SNIHostName(IDN.toASCII(bare))));
            } catch (IllegalArgumentException e) {
                // A name SNI cannot carry; the host-name check still applies.
            }
        }
        return base;
    }

    private static boolean isAddressLiteral(String host) {
        return host.indexOf(':') >= 0 || host.matches("[0-9.]+");
    }

    private SslContext buildServer() throws TlsException {
        try {
            SslContextBuilder b = SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new))
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2");
            if (!trust.isEmpty()) {
                b.trustManager(trust.toArray(X509Certificate[]::new));
            }
            b.clientAuth(switch (files.clientAuth()) {
                case NONE -> io.netty.handler.ssl.ClientAuth.NONE;
                case WANT -> io.netty.handler.ssl.ClientAuth.OPTIONAL;
                case REQUIRE -> io.netty.handler.ssl.ClientAuth.REQUIRE;
            });
            return b.build();
        } catch (javax.net.ssl.SSLException | RuntimeException e) {
            throw new TlsException("cannot serve TLS with " + files.certChain() + " and " + files.privateKey() + ": "
                    + oneLine(e), e);
        }
    }

    private SSLContext buildClient() throws TlsException {
        try {
            KeyManagerFactory kmf = null;
            if (key != null) {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("self", key, IN_MEMORY, chain.toArray(X509Certificate[]::new));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, IN_MEMORY);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (trust.isEmpty()) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore ts = KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                for (int i = 0; i < trust.size(); i++) {
                    ts.setCertificateEntry("ca" + i, trust.get(i));
                }
                tmf.init(ts);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new TlsException("cannot build a TLS client from " + describe() + ": " + oneLine(e), e);
        }
    }

    /**
     * Proves the key is the certificate's by signing with one and verifying with the other: a
     * mismatched pair would otherwise only show as every handshake failing.
     */
    private static void checkPair(PrivateKey key, X509Certificate cert, TlsFiles files) throws TlsException {
        PublicKey pub = cert.getPublicKey();
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
            default -> null;
        };
        if (algorithm == null) {
            return;
        }
        if (!pub.getAlgorithm().equals(key.getAlgorithm())
                && !(key.getAlgorithm().startsWith("Ed") && pub.getAlgorithm().startsWith("Ed"))) {
            throw mismatch(files);
        }
        try {
            byte[] probe = "statesync key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] sig = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(pub);
            verifier.update(probe);
            if (!verifier.verify(sig)) {
                throw mismatch(files);
            }
        } catch (GeneralSecurityException e) {
            throw mismatch(files);
        }
    }

    private static TlsException mismatch(TlsFiles files) {
        return new TlsException("TLS key " + files.privateKey() + " does not belong to the certificate in "
                + files.certChain());
    }

    private String describe() {
        StringBuilder s = new StringBuilder();
        for (Path p : new Path[] {files.certChain(), files.privateKey(), files.trustBundle()}) {
            if (p != null) {
                s.append(s.isEmpty() ? "" : ", ").append(p);
            }
        }
        return s.isEmpty() ? "the JDK's defaults" : s.toString();
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replaceAll("\\s+", " ").strip();
    }

    @Override
    public String toString() {
        return "Tls[" + describe() + ", clientAuth=" + files.clientAuth().spelling() + "]";
    }
}
