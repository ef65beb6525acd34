package io.statesync.transfer.server;

/**
 * Endpoints another layer adds to a running {@link FileShareServer} under a path prefix, so a node
 * needs one HTTP server for blobs, metrics and its protocols (a group's catch-up routes, for one).
 * See {@link FileShareServer#mount}.
 */
@FunctionalInterface
public interface Route {
    /**
     * Answers one request below the mount point. Called on a virtual thread of its own, so it
     * may block (read a file, ask a state machine); it should still answer in well under the
     * server's idle timeout. A {@link RouteException} becomes its status with the one-line reason;
     * any other exception becomes a 500 and is logged.
     */
    RouteResponse handle(RouteRequest request) throws RouteException;
}
