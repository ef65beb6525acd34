package io.statesync.transfer.server;

import io.netty.handler.codec.http.HttpResponseStatus;

/** A request the share answers with an error status; the message is the one-line reason sent to the client. */
final class RequestRejected extends Exception {
    private final HttpResponseStatus status;

    RequestRejected(HttpResponseStatus status, String reason) {
        super(reason, null, false, false);
        this.status = status;
    }

    HttpResponseStatus status() {
        return status;
    }
}
