package io.statesync.cli;

/**
 * A command could not do its job for a reason the user can act on. The message is the whole
 * report: one line, printed after {@code statesync: }, never with a stack trace.
 */
final class CommandFailure extends Exception {
    private final int exitCode;

    CommandFailure(String message) {
        this(message, Failures.FAILED, null);
    }

    CommandFailure(String message, Throwable cause) {
        this(message, Failures.FAILED, cause);
    }

    CommandFailure(String message, int exitCode, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** The process exit code this failure ends with. */
    int exitCode() {
        return exitCode;
    }
}
