package io.statesync.cli;

/**
 * Where a long-running command learns that the process is asked to stop (SIGINT, SIGTERM).
 * In a real process these are JVM shutdown hooks; tests fire them by hand.
 */
interface ShutdownHooks {
    /** Runs {@code action} when the process is asked to stop, until the registration is closed. */
    Registration onShutdown(Runnable action);

    /** A registered action; closing it unregisters the action. */
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    /** The JVM's shutdown hooks. */
    static ShutdownHooks runtime() {
        return action -> {
            Thread hook = new Thread(action, "statesync-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            return () -> {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // The JVM is already running its hooks, ours included: nothing left to undo.
                }
            };
        };
    }
}
