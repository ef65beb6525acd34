package io.statesync.transfer.fetch;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * A place that serves blobs at {@code <base>/ipfs/<cid>}: a Statesync file share, any static
 * web server pointed at a store directory, or an IPFS trustless gateway. Nothing a source
 * sends is trusted: every byte is checked against its CID.
 *
 * @param base scheme, host, port and optional path prefix, with no trailing slash
 */
public record Source(URI base) {
    public Source {
        String scheme = base.getScheme() == null ? "" : base.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("source " + base + ": only http and https URLs are supported");
        }
        if (base.getHost() == null) {
            throw new IllegalArgumentException("source " + base + " has no host");
        }
        if (base.getRawQuery() != null || base.getRawFragment() != null) {
            throw new IllegalArgumentException("source " + base + " must not have a query or fragment");
        }
        String path = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
        base = URI.create(scheme + "://" + base.getRawAuthority() + path);
    }

    /** Parses a URL such as {@code http://127.0.0.1:8080} or {@code https://host/store/}. */
    public static Source parse(String url) {
        try {
            return new Source(new URI(url.trim()));
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a URL: " + url + " (" + e.getReason() + ")");
        }
    }

    /** The port to connect to, defaulted from the scheme. */
    public int port() {
        return base.getPort() > 0 ? base.getPort() : base.getScheme().equals("https") ? 443 : 80;
    }

    @Override
    public String toString() {
        return base.toString();
    }

    /**
     * The source as a metric label: {@code host:port} (the default port filled in), never the
     * whole URL, so a label stays short and one server is one series whatever path it serves.
     */
    public String label() {
        return base.getHost() + ":" + port();
    }
}
