package io.statesync.cli;

import io.statesync.transfer.tls.ClientAuth;
import io.statesync.transfer.tls.Tls;
import io.statesync.transfer.tls.TlsException;
import io.statesync.transfer.tls.TlsFiles;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code --ca-file}, {@code --cert} and {@code --key}: the PEM files of a command that speaks
 * TLS. A client trusts {@code --ca-file} (the JDK's CAs without it) and presents
 * {@code --cert}/{@code --key} to a server that asks (mTLS); a server serves with
 * {@code --cert}/{@code --key} and checks client certificates against {@code --ca-file}.
 */
final class TlsOptions {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec spec;

    @Option(names = "--ca-file", paramLabel = "FILE",
            description = "PEM bundle of the CAs that sign the other side's TLS certificate")
    private Path caFile;

    @Option(names = "--cert", paramLabel = "FILE",
            description = "PEM certificate chain to present over TLS (with --key)")
    private Path cert;

    @Option(names = "--key", paramLabel = "FILE",
            description = "PEM PKCS#8 private key of --cert (BEGIN PRIVATE KEY, unencrypted)")
    private Path key;

    /** Whether any TLS file was given. */
    boolean given() {
        return caFile != null || cert != null || key != null;
    }

    /** The client side: null when no file was given (https sources then use the JDK's CAs). */
    Tls client() throws CommandFailure {
        return given() ? load(ClientAuth.NONE) : null;
    }

    /** The server side, asking clients for certificates as {@code clientAuth} says. */
    Tls server(ClientAuth clientAuth) throws CommandFailure {
        if (cert == null) {
            throw new ParameterException(spec.commandLine(), "TLS needs --cert and --key");
        }
        return load(clientAuth);
    }

    private Tls load(ClientAuth clientAuth) throws CommandFailure {
        if ((cert == null) != (key == null)) {
            throw new ParameterException(spec.commandLine(), "--cert and --key come together: give both or neither");
        }
        if (clientAuth != ClientAuth.NONE && caFile == null) {
            throw new ParameterException(spec.commandLine(), "--client-auth " + clientAuth.spelling()
                    + " checks client certificates against --ca-file: give one");
        }
        try {
            return new TlsFiles(cert, key, caFile, clientAuth).load();
        } catch (TlsException e) {
            throw new CommandFailure(e.getMessage(), e);
        }
    }
}
