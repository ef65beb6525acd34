package io.statesync.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * What the commands take from the process around them, so that tests can run them in-process
 * with their own variables, home directory and shutdown signal.
 *
 * @param variables environment variables ({@code STATESYNC_HOME}, {@code STATESYNC_DEBUG})
 * @param userHome the user's home directory, the parent of the default {@code ~/.statesync}
 * @param interactive standard error is a terminal: progress is a bar redrawn in place
 * @param shutdownHooks where commands learn of SIGINT and SIGTERM
 */
record Environment(Map<String, String> variables, Path userHome, boolean interactive, ShutdownHooks shutdownHooks) {
    /** Names the directory holding Statesync's own data; {@code ~/.statesync} when unset. */
    static final String HOME_VARIABLE = "STATESYNC_HOME";
    /** When set to anything but empty or 0, failures also print their stack trace. */
    static final String DEBUG_VARIABLE = "STATESYNC_DEBUG";

    Environment {
        variables = Map.copyOf(variables);
        Objects.requireNonNull(userHome, "userHome");
        Objects.requireNonNull(shutdownHooks, "shutdownHooks");
    }

    /** The environment of this process. */
    static Environment system() {
        return new Environment(System.getenv(), Path.of(System.getProperty("user.home")), Terminal.isInteractive(),
                ShutdownHooks.runtime());
    }

    /** {@code $STATESYNC_HOME/store}, with {@code STATESYNC_HOME} defaulting to {@code ~/.statesync}. */
    Path defaultStore() {
        String home = variables.get(HOME_VARIABLE);
        Path base = home == null || home.isBlank() ? userHome.resolve(".statesync") : Path.of(home);
        return base.resolve("store");
    }

    boolean debug() {
        String v = variables.get(DEBUG_VARIABLE);
        return v != null && !v.isBlank() && !v.equals("0");
    }
}
