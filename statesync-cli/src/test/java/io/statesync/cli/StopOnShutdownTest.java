package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class StopOnShutdownTest {
    @Test
    void aShutdownInterruptsTheCommandAndWaitsUntilItHasCleanedUp() throws Exception {
        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();
        CountDownLatch working = new CountDownLatch(1);
        AtomicBoolean cleanedUp = new AtomicBoolean();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try {
            Future<Integer> command = executor.submit(() -> StopOnShutdown.run(shutdown, () -> {
                try {
                    working.countDown();
                    new CountDownLatch(1).await();
                    return 0;
                } catch (InterruptedException e) {
                    sleepUninterruptibly(Duration.ofMillis(200));
                    cleanedUp.set(true);
                    return Failures.INTERRUPTED;
                }
            }));
            assertTrue(working.await(10, TimeUnit.SECONDS));

            shutdown.fire();

            assertTrue(cleanedUp.get(), "the hook returned only after the command cleaned up");
            assertEquals(Failures.INTERRUPTED, command.get(10, TimeUnit.SECONDS));
            assertFalse(shutdown.armed(), "the hook is removed once the command is done");
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void aCommandThatEndsNormallyLeavesNoHookBehind() {
        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();

        assertEquals(7, StopOnShutdown.run(shutdown, () -> 7));

        assertFalse(shutdown.armed());
    }

    private static void sleepUninterruptibly(Duration d) {
        long end = System.nanoTime() + d.toNanos();
        while (System.nanoTime() < end) {
            try {
                Thread.sleep(Math.max(1, (end - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                // Keep cleaning up: this stands for work that must finish.
            }
        }
    }
}
