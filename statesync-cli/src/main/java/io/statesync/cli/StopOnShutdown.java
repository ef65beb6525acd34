package io.statesync.cli;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * Runs a command so that SIGINT or SIGTERM interrupts it instead of killing it mid-way: the
 * command's own {@code finally} blocks and try-with-resources then close servers, abandon temp
 * files and delete scratch directories, its one-line report is printed, and only then does the
 * JVM halt (after at most {@link #GRACE}).
 *
 * <p>The command runs on a virtual thread because there an interrupt also cancels a blocking
 * socket read or connect; on a platform thread it would wait for the socket's own timeout,
 * and a fetch stalled on a silent source could not be stopped.
 */
final class StopOnShutdown {
    /** How long a shutdown waits for the interrupted command to clean up and report. */
    static final Duration GRACE = Duration.ofSeconds(10);

    private StopOnShutdown() {
    }

    /** Runs {@code command} and returns its exit code; a shutdown interrupts it and waits for it. */
    static int run(ShutdownHooks hooks, IntSupplier command) {
        FutureTask<Integer> task = new FutureTask<>(command::getAsInt);
        Thread worker = Thread.ofVirtual().name("statesync-command").unstarted(task);
        CountDownLatch finished = new CountDownLatch(1);
        ShutdownHooks.Registration hook = hooks.onShutdown(() -> {
            worker.interrupt();
            try {
                finished.await(GRACE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            worker.start();
            return awaitResult(task, worker);
        } finally {
            finished.countDown();
            hook.close();
        }
    }

    /** Waits for the command; an interrupt of the caller is passed on to the command, which still gets to finish. */
    private static int awaitResult(FutureTask<Integer> task, Thread worker) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                    worker.interrupt();
                } catch (ExecutionException e) {
                    // picocli turns every exception into an exit code; anything else is a bug to surface as is.
                    if (e.getCause() instanceof RuntimeException r) {
                        throw r;
                    }
                    if (e.getCause() instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
