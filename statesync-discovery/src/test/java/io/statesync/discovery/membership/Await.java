package io.statesync.discovery.membership;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waiting on a condition, never on the clock alone. */
final class Await {
    private Await() {
    }

    /** Polls {@code condition} until it holds; fails naming {@code what} after {@code timeout}. Returns the wait. */
    static Duration until(String what, Duration timeout, BooleanSupplier condition) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout + " waiting for: " + what);
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting for: " + what);
            }
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }
}
