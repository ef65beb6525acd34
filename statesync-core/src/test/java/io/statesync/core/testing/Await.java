package io.statesync.core.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waiting on a condition, never on the clock alone: polls until the condition holds and returns
 * at once, so a generous timeout costs nothing when things go well; fails naming what was awaited
 * and for how long when it does not.
 */
public final class Await {
    /** The first pause between two polls: a condition that holds soon is seen soon. */
    static final long FIRST_PAUSE_MILLIS = 10;
    /** The pause doubles up to this: a long wait must not hammer what it polls (status pages, processes). */
    static final long MAX_PAUSE_MILLIS = 100;

    private Await() {
    }

    /**
     * Polls {@code condition} until it holds; fails naming {@code what} once {@code timeout} has
     * passed, or when the waiting thread is interrupted (its interrupt status is kept).
     *
     * @return how long the wait took
     */
    public static Duration until(String what, Duration timeout, BooleanSupplier condition) {
        return until(() -> what, timeout, condition);
    }

    /**
     * As {@link #until(String, Duration, BooleanSupplier)}, with the description made only on
     * failure: it can show the state that was waited on (a cluster's members, a status page).
     */
    public static Duration until(Supplier<String> what, Duration timeout, BooleanSupplier condition) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        long pause = FIRST_PAUSE_MILLIS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + format(timeout) + " waiting for: " + what.get());
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                // A JUnit timeout interrupts the test thread: say what it was waiting for, and
                // leave the interrupt for whatever cleans up after.
                Thread.currentThread().interrupt();
                fail("interrupted waiting for: " + what.get(), e);
            }
            pause = Math.min(2 * pause, MAX_PAUSE_MILLIS);
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    /** "30 s" or "250 ms": as a reader of the failure thinks of a timeout, not PT30S. */
    static String format(Duration d) {
        long millis = d.toMillis();
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }
}
