package io.statesync.transfer.server;

/** A route's refusal: the status and the one-line reason the client receives. */
public final class RouteException extends Exception {
    private final int status;

    public RouteException(int status, String reason) {
        super(reason, null, false, false);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("not an error status: " + status);
        }
        this.status = status;
    }

    public static RouteException badRequest(String reason) {
        return new RouteException(400, reason);
    }

    public static RouteException notFound(String reason) {
        return new RouteException(404, reason);
    }

    public int status() {
        return status;
    }
}
