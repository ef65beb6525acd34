package io.statesync.transfer.server;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What a {@link Route} answers: a status and a complete body. Route answers are never cached
 * ({@code Cache-Control: no-store}): they describe a moving state.
 */
public record RouteResponse(int status, String contentType, byte[] body) {
    public static final String JSON = "application/json";
    public static final String BINARY = "application/octet-stream";

    public RouteResponse {
        if (status < 200 || status > 599) {
            throw new IllegalArgumentException("status " + status);
        }
        Objects.requireNonNull(contentType, "contentType");
        Objects.requireNonNull(body, "body");
    }

    /** 200 with a JSON document. */
    public static RouteResponse json(String json) {
        return new RouteResponse(200, JSON, json.getBytes(StandardCharsets.UTF_8));
    }

    /** 200 with binary bytes. */
    public static RouteResponse binary(byte[] body) {
        return new RouteResponse(200, BINARY, body);
    }
}
