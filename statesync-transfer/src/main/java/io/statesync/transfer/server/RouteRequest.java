package io.statesync.transfer.server;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One request to a mounted {@link Route}, decoded as strictly as every other request the share
 * answers (no dot segments, no encoded slashes, UTF-8 only). The body is read only for a mount
 * that asked for bodies (up to its limit); otherwise it is empty and parameters travel in the
 * query.
 *
 * @param method the HTTP method, upper case
 * @param path the decoded path segments below the mount prefix; {@code []} for the prefix itself
 * @param query decoded query parameters with all their values, in order
 * @param body the request body, complete and within the mount's limit; empty when there is none
 * @param headers the request's header fields, names in lower case, with all their values in order
 */
public record RouteRequest(String method, List<String> path, Map<String, List<String>> query, byte[] body,
                           Map<String, List<String>> headers) {
    public RouteRequest {
        path = List.copyOf(path);
        query = Map.copyOf(query);
        body = body == null ? new byte[0] : body;
        Map<String, List<String>> lower = new java.util.HashMap<>();
        headers.forEach((name, values) -> lower.merge(name.toLowerCase(Locale.ROOT), List.copyOf(values),
                (a, b) -> java.util.stream.Stream.concat(a.stream(), b.stream()).toList()));
        headers = Map.copyOf(lower);
    }

    public RouteRequest(String method, List<String> path, Map<String, List<String>> query, byte[] body) {
        this(method, path, query, body, Map.of());
    }

    public RouteRequest(String method, List<String> path, Map<String, List<String>> query) {
        this(method, path, query, new byte[0], Map.of());
    }

    /**
     * The single value of header {@code name} (any case), or empty when it is absent; 400 when it
     * is given more than once, so that no two parts of a chain can read different values.
     */
    public Optional<String> header(String name) throws RouteException {
        List<String> values = headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
        if (values.size() > 1) {
            throw RouteException.badRequest("header '" + name + "' given more than once");
        }
        return values.stream().findFirst();
    }

    /** The same request with {@code path} instead (what a route passes on to the one below it). */
    public RouteRequest withPath(List<String> path) {
        return new RouteRequest(method, path, query, body, headers);
    }

    /** The path below the mount prefix joined with {@code /}, for matching: {@code "log/entries"}. */
    public String route() {
        return String.join("/", path);
    }

    /** The single value of a required parameter; 400 when it is missing or repeated. */
    public String param(String name) throws RouteException {
        List<String> values = query.getOrDefault(name, List.of());
        if (values.size() != 1) {
            throw RouteException.badRequest(values.isEmpty()
                    ? "missing query parameter '" + name + "'"
                    : "query parameter '" + name + "' given more than once");
        }
        return values.get(0);
    }

    /** The value of an optional parameter, or {@code fallback}. */
    public String param(String name, String fallback) throws RouteException {
        return query.containsKey(name) ? param(name) : fallback;
    }

    /** A required non-negative integer parameter; 400 with the reason otherwise. */
    public long longParam(String name) throws RouteException {
        String value = param(name);
        try {
            long v = Long.parseLong(value);
            if (v < 0) {
                throw RouteException.badRequest("query parameter '" + name + "' must not be negative");
            }
            return v;
        } catch (NumberFormatException e) {
            throw RouteException.badRequest("query parameter '" + name + "' is not an integer");
        }
    }

    /** Throws 405 unless the method is one of {@code allowed}. */
    public void requireMethod(String... allowed) throws RouteException {
        for (String m : allowed) {
            if (m.equals(method)) {
                return;
            }
        }
        throw new RouteException(405, "method " + method + " not allowed here: use " + String.join(" or ", allowed));
    }
}
