package io.statesync.core.concurrent;

import java.util.concurrent.CountDownLatch;

/**
 * Waits an owner must finish even when it is interrupted (a close joining the threads it owns,
 * so that none outlives it): an interrupt does not cut the wait short, and is restored on the
 * calling thread once the wait is over.
 */
public final class Uninterruptibly {
    private Uninterruptibly() {
    }

    /** Joins {@code thread}. */
    public static void join(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until {@code latch} reaches zero. */
    public static void await(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
