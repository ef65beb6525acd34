package io.statesync.node;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.statesync.transfer.server.Route;
import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import io.statesync.transfer.server.RouteResponse;
import java.util.Optional;

/**
 * Lets a request through to the admin API only with the bearer token, when the node has one
 * ({@code admin.tokenFile}). A request without it, or with another, gets 401 and is counted in
 * {@code statesync_admin_unauthorized_total{reason="missing"|"wrong"}}; nothing of the API runs.
 */
final class AdminGate implements Route {
    private final Route inner;
    private final AdminToken token;
    private final Counter missing;
    private final Counter wrong;

    /** {@code token} null: no token is asked for (a loopback listener without a token file). */
    AdminGate(Route inner, AdminToken token, MeterRegistry registry) {
        this.inner = inner;
        this.token = token;
        this.missing = refusals(registry, "missing");
        this.wrong = refusals(registry, "wrong");
    }

    /** Whether a Host header names an IP literal or localhost (with or without a port). */
    static boolean hostIsAnAddress(String host) {
        String h = host.startsWith("[") ? host.substring(0, Math.max(host.indexOf(']') + 1, 1))
                : host.replaceFirst(":\\d+$", "");
        return h.equals("localhost") || h.matches("\\d{1,3}(\\.\\d{1,3}){3}") || h.matches("\\[[0-9A-Fa-f:.]+]");
    }

    private static Counter refusals(MeterRegistry registry, String reason) {
        return Counter.builder("statesync.admin.unauthorized")
                .description("Admin requests refused with 401: no token, or a wrong one")
                .tag("reason", reason).register(registry);
    }

    @Override
    public RouteResponse handle(RouteRequest request) throws RouteException {
        // A web page open in a browser on this host could otherwise drive the loopback API
        // (a cross-site POST needs no preflight), or reach it through a rebound DNS name.
        if (request.header("Origin").isPresent()) {
            throw new RouteException(403, "the admin API does not answer browsers (the request has an Origin)");
        }
        String host = request.header("Host").orElse("");
        // Without a token (a loopback listener) only an address will do; with one, a rebound
        // name gains nothing, and operators may use a DNS name for a listener they opened.
        if (token == null && !hostIsAnAddress(host)) {
            throw new RouteException(403, "the admin API answers requests to an IP address or localhost, not to '"
                    + (host.length() > 64 ? host.substring(0, 64) + "…" : host) + "'");
        }
        if (token != null) {
            Optional<String> authorization = request.header("Authorization");
            if (authorization.isEmpty()) {
                missing.increment();
                throw new RouteException(401, "the admin API needs its token: send Authorization: Bearer <the "
                        + "token in admin.tokenFile>");
            }
            if (!token.accepts(authorization.get())) {
                wrong.increment();
                throw new RouteException(401, "wrong admin token");
            }
        }
        return inner.handle(request);
    }
}
