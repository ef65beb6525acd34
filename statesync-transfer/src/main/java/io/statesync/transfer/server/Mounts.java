package io.statesync.transfer.server;

import io.statesync.core.store.ContentStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The routes mounted on one server, looked up by the longest matching prefix. Mounts come and go
 * while the server runs (a group joins, a group closes), so the table is concurrent.
 */
final class Mounts {
    /**
     * A mount: a store served at {@code <prefix>/ipfs/{cid}} (or null), and a route for the rest,
     * which reads POST and PUT bodies of up to {@code maxBody} bytes (0: bodies are not read).
     */
    record Mount(List<String> prefix, ContentStore store, Route route, int maxBody) {
    }

    /**
     * The prefix of a mount at the root. Unlike any other mount it answers its own path only,
     * {@code /}: a request target {@code //x} also starts with an empty segment, and must keep
     * meaning what it did before a root mount existed (a 404), not reach the root's route.
     */
    static final List<String> ROOT = List.of("");

    private final Map<List<String>, Mount> byPrefix = new ConcurrentHashMap<>();
    /** What {@code /health} asks: a reason the host is unhealthy, or null. */
    private volatile java.util.function.Supplier<String> healthProblem = () -> null;
    /** Route answers computed or being written now; guarded by this, for {@link #awaitIdle}. */
    private int routesRunning;

    /** A route request was taken on; pair with {@link #routeDone()} once its answer is written or dropped. */
    synchronized void routeStarted() {
        routesRunning++;
    }

    synchronized void routeDone() {
        routesRunning--;
        if (routesRunning == 0) {
            notifyAll();
        }
    }

    /**
     * Waits until no route answer is in flight, for at most {@code millis}; true if none is. A
     * closing server calls it so that an answer already decided (such as the reply to "leave",
     * which is what ends the process) still reaches its client.
     */
    synchronized boolean awaitIdle(long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        boolean interrupted = false;
        try {
            while (routesRunning > 0) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0) {
                    return false;
                }
                try {
                    wait(left);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            return true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    void healthCheck(java.util.function.Supplier<String> check) {
        healthProblem = java.util.Objects.requireNonNull(check, "check");
    }

    /** Why the host is unhealthy now, or null; a check that throws counts as unhealthy. */
    String healthProblem() {
        try {
            return healthProblem.get();
        } catch (RuntimeException e) {
            return "health check failed: " + e;
        }
    }

    void add(Mount mount) {
        if (byPrefix.putIfAbsent(mount.prefix(), mount) != null) {
            throw new IllegalStateException("/" + String.join("/", mount.prefix()) + " is already mounted");
        }
    }

    /**
     * Removes this very mount, if it is still the one at its prefix. Compared by identity: a
     * record's equals would let a stale handle remove a later mount of the same store and route.
     */
    void remove(Mount mount) {
        byPrefix.computeIfPresent(mount.prefix(), (prefix, current) -> current == mount ? null : current);
    }

    /**
     * The mount whose prefix the path starts with, the longest one if several; null if none. The
     * root mount matches {@code /} exactly, where no other prefix can match.
     */
    Mount find(List<String> segments) {
        Mount best = null;
        for (Mount m : byPrefix.values()) {
            List<String> p = m.prefix();
            boolean matches = p.equals(ROOT) ? segments.equals(ROOT)
                    : p.size() <= segments.size() && segments.subList(0, p.size()).equals(p);
            if (matches && (best == null || p.size() > best.prefix().size())) {
                best = m;
            }
        }
        return best;
    }
}
