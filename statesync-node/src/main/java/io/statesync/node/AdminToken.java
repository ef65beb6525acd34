package io.statesync.node;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The admin API's bearer token ({@code admin.tokenFile}). The file must be a regular file that
 * only its owner can read or write (mode 0600 or 0400): a token others can read protects nothing.
 * Its content, without surrounding white space, is the token: at least {@value #MIN_LENGTH}
 * characters of the base64/URL-safe alphabet ({@code openssl rand -hex 32} makes one).
 *
 * <p>A presented token is compared through SHA-256 digests with {@link MessageDigest#isEqual}, so
 * the time a comparison takes says nothing about how much of the token was right, nor its length.
 */
final class AdminToken {
    static final int MIN_LENGTH = 32;
    static final int MAX_LENGTH = 1024;
    private static final Set<PosixFilePermission> OTHERS = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private final byte[] digest;

    private AdminToken(byte[] digest) {
        this.digest = digest;
    }

    /** Reads and checks the token file; the message of a refusal names the file and says what to do. */
    static AdminToken read(Path file) throws IOException {
        String where = "admin.tokenFile " + file + ": ";
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(where + (Files.exists(file, LinkOption.NOFOLLOW_LINKS)
                    ? "not a regular file" : "no such file"));
        }
        PosixFileAttributeView posix = Files.getFileAttributeView(file, PosixFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        if (posix != null) {
            Set<PosixFilePermission> mode = posix.readAttributes().permissions();
            if (mode.stream().anyMatch(OTHERS::contains)) {
                throw new IOException(where + "others may read or change it (" + PosixFilePermissions.toString(mode)
                        + "); chmod 600 it");
            }
        }
        if (Files.size(file) > MAX_LENGTH + 2) {
            throw new IOException(where + "longer than " + MAX_LENGTH + " characters");
        }
        String token = Files.readString(file, StandardCharsets.US_ASCII).strip();
        if (token.length() < MIN_LENGTH || token.length() > MAX_LENGTH) {
            throw new IOException(where + "the token must be " + MIN_LENGTH + " to " + MAX_LENGTH + " characters, not "
                    + token.length() + " (openssl rand -hex 32 makes one)");
        }
        if (!token.matches("[A-Za-z0-9._~+/=-]+")) {
            throw new IOException(where + "the token may hold only letters, digits and . _ ~ + / = -");
        }
        return new AdminToken(sha256(token));
    }

    /**
     * Whether an {@code Authorization} header value carries this token: the {@code Bearer} scheme
     * (any case), one space, the token.
     */
    boolean accepts(String authorization) {
        int space = authorization.indexOf(' ');
        if (space < 0 || !authorization.substring(0, space).toLowerCase(Locale.ROOT).equals("bearer")) {
            return false;
        }
        return MessageDigest.isEqual(digest, sha256(authorization.substring(space + 1).strip()));
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
