package io.statesync.groups;

import io.statesync.groups.log.LogPosition;
import io.statesync.groups.sync.SessionContext;
import io.statesync.groups.sync.StateSync;
import io.statesync.groups.sync.SyncMetrics;
import io.statesync.groups.sync.SyncProgress;
import io.statesync.groups.sync.SyncSession;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives catch-up on one member: one runner thread at a time makes attempts (a fresh session with
 * a fresh view of peers each time), each bounded by the session deadline, with a doubling backoff
 * between failures, until one succeeds or the catch-up is cancelled. The runner owns the session
 * thread and joins it before it reports, so nothing outlives a cancel.
 */
final class CatchUp {
    private static final Logger log = LoggerFactory.getLogger(CatchUp.class);
    private static final Duration FIRST_BACKOFF = Duration.ofMillis(200);

    private final String groupId;
    /** Snapshots that failed in recent attempts; every attempt's session sees the same. */
    private final io.statesync.groups.sync.FailedOffers failedOffers = new io.statesync.groups.sync.FailedOffers();
    private final StateSync sync;
    private final SyncMetrics metrics;
    private final Duration sessionTimeout;
    private final Duration backoffMax;
    /** Makes the context of one attempt. */
    private final Contexts contexts;
    /** Called with the reached position before the outcome is reported, to make it durable. */
    private final PositionSink onReached;
    /** Whether a target the state already reaches may be answered without a session (see attempt). */
    private final java.util.function.BooleanSupplier answerFromState;
    private Thread runner;
    private CompletableFuture<LogPosition> running;
    private volatile boolean closed;
    private volatile String lastError;
    private volatile int attempts;
    private volatile LogPosition lastTarget = LogPosition.ORIGIN;
    private volatile SyncProgress progress;
    private volatile long lastProgressLog;

    /** Makes the context of one attempt toward {@code target}, ending at {@code deadline}, run by {@code runner}. */
    interface Contexts {
        SessionContext create(LogPosition target, Instant deadline, CatchUp runner);

        /** The attempt of {@code ctx} is over: its session, if one ran, has ended. */
        default void ended(SessionContext ctx) {
        }
    }

    interface PositionSink {
        LogPosition reached(LogPosition position) throws Exception;
    }

    /** What a status page shows about catch-up. */
    record State(boolean running, int attempts, String lastError, LogPosition target, SyncProgress progress) {
    }

    CatchUp(String groupId, StateSync sync, SyncMetrics metrics, Duration sessionTimeout, Duration backoffMax,
            Contexts contexts, PositionSink onReached, java.util.function.BooleanSupplier answerFromState) {
        this.answerFromState = answerFromState;
        this.groupId = groupId;
        this.sync = sync;
        this.metrics = metrics;
        this.sessionTimeout = sessionTimeout;
        this.backoffMax = backoffMax;
        this.contexts = contexts;
        this.onReached = onReached;
    }

    /** Starts catching up to at least {@code target}, or returns the catch-up already running. */
    synchronized CompletableFuture<LogPosition> start(LogPosition target) {
        if (running != null && !running.isDone()) {
            if (target.index() > lastTarget.index()) {
                lastTarget = target;
            }
            return running;
        }
        // A new catch-up aims where it is asked to, not where an earlier one aimed.
        lastTarget = target;
        if (closed) {
            return CompletableFuture.failedFuture(new CancellationException("the group is closed"));
        }
        CompletableFuture<LogPosition> future = new CompletableFuture<>();
        running = future;
        attempts = 0;
        runner = Thread.ofVirtual().name("statesync-catchup-" + groupId.substring(0, 8)).start(() -> loop(future));
        return future;
    }

    State state() {
        CompletableFuture<LogPosition> f;
        synchronized (this) {
            f = running;
        }
        return new State(f != null && !f.isDone(), attempts, lastError, lastTarget, progress);
    }

    private void loop(CompletableFuture<LogPosition> future) {
        Duration backoff = FIRST_BACKOFF;
        while (!closed && !future.isDone()) {
            attempts++;
            metrics.started();
            long t0 = System.nanoTime();
            try {
                LogPosition reached = attempt(lastTarget);
                reached = onReached.reached(reached);
                metrics.completed(Duration.ofNanos(System.nanoTime() - t0));
                log.info("group {}: caught up to {} (attempt {})", groupId, reached, attempts);
                lastError = null;
                future.complete(reached);
                return;
            } catch (InterruptedException e) {
                metrics.failed(Duration.ofNanos(System.nanoTime() - t0));
                future.completeExceptionally(new CancellationException("catch-up cancelled"));
                return;
            } catch (Exception | Error e) {
                // Errors too: a runner that ended without completing would leave Ratis waiting.
                metrics.failed(Duration.ofNanos(System.nanoTime() - t0));
                lastError = oneLine(e);
                log.warn("group {}: catch-up attempt {} failed, retrying in {} ms: {}", groupId, attempts,
                        backoff.toMillis(), lastError);
            }
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                future.completeExceptionally(new CancellationException("catch-up cancelled"));
                return;
            }
            backoff = backoff.multipliedBy(2).compareTo(backoffMax) > 0 ? backoffMax : backoff.multipliedBy(2);
        }
        future.completeExceptionally(new CancellationException("catch-up cancelled"));
    }

    /** One session on its own thread, cut off at the deadline. */
    /** Whether this member's consensus log holds nothing past its state (see {@link SessionContext#logEmptyPastState}). */
    boolean logEmptyPastState() {
        return answerFromState.getAsBoolean();
    }

    private LogPosition attempt(LogPosition target) throws Exception {
        Instant deadline = Instant.now().plus(sessionTimeout);
        SessionContext ctx = contexts.create(target, deadline, this);
        try {
            return attempt(ctx, target);
        } finally {
            contexts.ended(ctx);
        }
    }

    private LogPosition attempt(SessionContext ctx, LogPosition target) throws Exception {
        if (answerFromState.getAsBoolean() && ctx.applied().index() >= target.index() - 1) {
            // A joiner's state already reaches the entry before the target (it loaded it before Ratis
            // heard of it): nothing to fetch. A session would look for a snapshot newer than the
            // state, which need not exist yet. Only for a member whose consensus log holds nothing
            // past its state: a restarted member answered this way (its log holding entries of an
            // older term past the position) stopped following in the restart soak, while a real
            // install of a newer snapshot resets Ratis's log cleanly.
            log.info("group {}: the state at {} already reaches {}", groupId, ctx.applied(), target);
            return ctx.applied();
        }
        SyncSession session = sync.session(ctx);
        FutureTask<LogPosition> task = new FutureTask<>(session::run);
        Thread t = Thread.ofVirtual().name("statesync-session-" + ctx.sessionId()).start(task);
        try {
            return task.get(sessionTimeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new TimeoutException("the attempt ran past its deadline of " + sessionTimeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof Exception ex ? ex : new RuntimeException(cause);
        } finally {
            t.interrupt();
            joinUninterruptibly(t);
        }
    }

    /** A session must have ended before another may start: a second interrupt does not cut the wait short. */
    private static void joinUninterruptibly(Thread t) throws InterruptedException {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            throw new InterruptedException("catch-up cancelled");
        }
    }

    /** Records an attempt's progress; logs it at most every 5 seconds. */
    io.statesync.groups.sync.FailedOffers failedOffers() {
        return failedOffers;
    }

    void progress(SyncProgress p) {
        progress = p;
        long now = System.nanoTime();
        if (now - lastProgressLog > 5_000_000_000L) {
            lastProgressLog = now;
            log.info("group {}: catching up, {}", groupId, p);
        }
    }

    /** Stops a running catch-up; with {@code wait}, also waits for its threads to end. */
    void cancel(String why, boolean wait) {
        Thread r;
        synchronized (this) {
            r = runner;
            if (running == null || running.isDone()) {
                return;
            }
        }
        log.info("group {}: cancelling catch-up: {}", groupId, why);
        r.interrupt();
        if (!wait) {
            return;
        }
        try {
            r.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void close() {
        closed = true;
        cancel("the group is closing", true);
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return m.replace('\n', ' ');
    }
}
