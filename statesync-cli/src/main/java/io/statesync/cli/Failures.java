package io.statesync.cli;

import io.statesync.core.snapshot.ManifestException;
import io.statesync.transfer.fetch.FetchException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

/** Turns whatever stopped a command into the one line a user reads, and the process exit code. */
final class Failures {
    /** Success. */
    static final int OK = 0;
    /** The command ran and failed: fetch failed, I/O error, output differs. */
    static final int FAILED = 1;
    /** The command line was wrong: unknown flag, missing option, malformed value. */
    static final int USAGE = 2;
    /** Stopped by SIGINT or SIGTERM, as shells report it (128 + SIGINT). */
    static final int INTERRUPTED = 130;

    private Failures() {
    }

    /** One line for {@code e}, without the {@code statesync: } prefix. */
    static String describe(Throwable e) {
        return oneLine(switch (e) {
            case CommandFailure f -> f.getMessage();
            case FetchException f -> "fetch failed: " + f.getMessage();
            case ManifestException m -> "invalid snapshot: " + m.getMessage();
            case UncheckedIOException u -> describe(u.getCause());
            case InterruptedException i -> "interrupted";
            case ClosedByInterruptException i -> "interrupted";
            case IOException io -> describeIo(io);
            default -> "internal error: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage())
                    + " (set " + Environment.DEBUG_VARIABLE + "=1 for a stack trace)";
        });
    }

    /** Exit code for a failure that reached the top of a command. */
    static int exitCode(Throwable e) {
        return switch (e) {
            case CommandFailure f -> f.exitCode();
            case InterruptedException i -> INTERRUPTED;
            case ClosedByInterruptException i -> INTERRUPTED;
            default -> FAILED;
        };
    }

    /** File-system errors name the file and what went wrong, as the JDK's messages alone do not. */
    static String describeIo(IOException e) {
        if (e instanceof FileSystemException fs && fs.getFile() != null) {
            String other = fs.getOtherFile() == null ? "" : " -> " + fs.getOtherFile();
            return fs.getFile() + other + ": " + reason(e);
        }
        return reason(e);
    }

    /** What went wrong, without the file: for messages that name the file already. */
    static String reason(IOException e) {
        if (e instanceof FileSystemException fs) {
            return switch (fs) {
                case NoSuchFileException n -> "no such file or directory";
                case AccessDeniedException a -> "permission denied";
                case FileAlreadyExistsException a -> "already exists";
                case NotDirectoryException n -> "not a directory";
                default -> fs.getReason() == null ? fs.getClass().getSimpleName()
                        : fs.getReason().toLowerCase(Locale.ROOT);
            };
        }
        String message = e.getMessage();
        return message == null || message.isBlank() ? e.getClass().getSimpleName() : message;
    }

    /** Folds a multi-line message onto one line. */
    static String oneLine(String message) {
        if (message == null) {
            return "";
        }
        return message.strip().replaceAll("\\s*\\R\\s*", "; ");
    }
}
