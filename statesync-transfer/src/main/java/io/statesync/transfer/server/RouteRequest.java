package io.statesync.transfer.server;

import java.util.List;
import java.util.Map;

/**
 * One request to a mounted {@link Route}, decoded as strictly as every other request the share
 * answers (no dot segments, no encoded slashes, UTF-8 only). Bodies are not read: parameters
 * travel in the query.
 *
 * @param method the HTTP method, upper case
 * @param path the decoded path segments below the mount prefix; {@code []} for the prefix itself
 * @param query decoded query parameters with all their values, in order
 * @param body the request body, complete and within the mount's limit; empty when there is none
 */
public record RouteRequest(String method, List<String> path, Map<String, List<String>> query, byte[] body) {
    public RouteRequest {
        path = List.copyOf(path);
        query = Map.copyOf(query);
        body = body == null ? new byte[0] : body;
    }

    public RouteRequest(String method, List<String> path, Map<String, List<String>> query) {
        this(method, path, query, new byte[0]);
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
