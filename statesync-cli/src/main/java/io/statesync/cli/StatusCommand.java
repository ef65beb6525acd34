package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.node.StatusFacts;
import io.statesync.transfer.http.BoundedCall;
import io.statesync.transfer.tls.Tls;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync status}: one look at a running node, from its {@code /node/status}, as a
 * table a person reads at a glance (or the document itself with {@code --json}). The same facts
 * as the page the node serves at {@code /}.
 */
@Command(name = "status", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Shows a running node's threads: height, role, leader, applied/commit index, mempool, "
                + "catch-up progress, newest snapshot and state (ok, stalled, failed, halted); then each "
                + "thread's members. The node serves the same view as a page at its URL."})
final class StatusCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most of a status document read (a node with many threads and peers stays far below). */
    private static final int MAX_STATUS_BYTES = 16 << 20;

    @Spec
    private CommandSpec spec;

    @Option(names = "--node", paramLabel = "URL", required = true, description = "a running node's HTTP URL")
    private String node;

    @Option(names = "--json", description = "print the node's status document as it answered it")
    private boolean json;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "5s",
            description = "longest wait for the node to answer (default: ${DEFAULT-VALUE})")
    private Duration timeout;

    @Mixin
    private TlsOptions tls;

    @Override
    public Integer call() throws Exception {
        URI base = base();
        if (timeout.isNegative() || timeout.isZero()) {
            throw new ParameterException(spec.commandLine(), "--timeout must be positive, got " + timeout);
        }
        String body = fetch(base);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.print(body.endsWith("\n") ? body : body + "\n");
        } else {
            JsonNode status;
            try {
                status = JSON.readTree(body);
            } catch (IOException e) {
                status = null;
            }
            if (status == null || !status.path("threads").isArray()) {
                throw new CommandFailure(base + " answered /node/status with something that is not a node's "
                        + "status: " + printable(abbreviate(body)));
            }
            out.print(render(status, base));
        }
        out.flush();
        return Failures.OK;
    }

    /** The node's URL without a trailing slash; a usage error unless it is http(s)://host[:port][/path]. */
    private URI base() {
        try {
            URI u = new URI(node.strip().replaceAll("/+$", ""));
            String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
            if ((scheme.equals("http") || scheme.equals("https")) && u.getHost() != null && u.getQuery() == null
                    && u.getFragment() == null) {
                return u;
            }
        } catch (URISyntaxException e) {
            // reported below, as every other malformed URL
        }
        throw new ParameterException(spec.commandLine(), "--node: '" + node + "' is not an http://host:port URL");
    }

    /** The status document's text; every way of not getting it is one line naming the node. */
    private String fetch(URI base) throws CommandFailure, InterruptedException {
        URI uri = URI.create(base + "/node/status");
        HttpResponse<byte[]> res;
        try (HttpClient client = Tls.httpClient(tls.client()).connectTimeout(timeout).build()) {
            // The timeout covers the whole document: a node that stalls mid-answer fails the
            // command at --timeout instead of holding it.
            res = BoundedCall.send(client, HttpRequest.newBuilder(uri).timeout(timeout)
                    .header("Accept", "application/json").GET().build(), MAX_STATUS_BYTES);
        } catch (HttpTimeoutException e) {
            throw new CommandFailure("no answer from " + base + " within " + seconds(timeout)
                    + " (see --timeout)", e);
        } catch (ConnectException e) {
            // The JDK's client leaves the message out for a refused connection.
            throw new CommandFailure("cannot reach " + base + ": "
                    + (e.getMessage() == null ? "connection refused" : e.getMessage()), e);
        } catch (IOException e) {
            throw new CommandFailure("cannot reach " + base + ": " + Failures.describeIo(e), e);
        }
        String body = new String(res.body(), StandardCharsets.UTF_8);
        if (res.statusCode() != 200) {
            // The node's reasons start with their status ("503 node n1 is starting"); say it once.
            String reason = printable(abbreviate(body.strip().replaceFirst("^\\d{3} ", "")));
            String hint = res.statusCode() == 404 ? " (no node status there: is this a statesync node's URL?)" : "";
            throw new CommandFailure(uri + " answered " + res.statusCode()
                    + (reason.isEmpty() ? "" : ": " + reason) + hint);
        }
        return body;
    }

    /** The whole human view: a header, the threads, the reasons for any trouble, the members. */
    static String render(JsonNode status, URI base) {
        StringBuilder b = new StringBuilder();
        b.append("node ").append(printable(StatusFacts.text(status, "node"))).append(" at ").append(base).append('\n');
        if (status.hasNonNull("failure")) {
            b.append("node failed: ").append(printable(status.path("failure").asText())).append('\n');
        }
        b.append('\n');
        Table threads = new Table("THREAD", "HEIGHT", "ROLE", "LEADER", "APPLIED/COMMIT", "MEMPOOL", "SYNC",
                "SNAPSHOT", "STATE");
        List<String> troubles = new ArrayList<>();
        Table members = new Table("THREAD", "MEMBER", "ROLE", "INDEX", "HTTP");
        for (JsonNode t : status.path("threads")) {
            String thread = StatusFacts.text(t, "thread");
            StatusFacts.State state = StatusFacts.state(t);
            threads.row(thread, StatusFacts.number(t, "height"), StatusFacts.role(t), StatusFacts.text(t, "leader"),
                    StatusFacts.indexes(t), StatusFacts.number(t, "mempool"), StatusFacts.sync(t),
                    StatusFacts.number(t, "latestSnapshotIndex"), state.label());
            if (state != StatusFacts.State.OK) {
                troubles.add(printable(thread + " " + state.label() + ": " + StatusFacts.stateReason(t)));
            }
            if (t.hasNonNull("lastSyncError")) {
                troubles.add(printable(thread + " last catch-up error: " + t.path("lastSyncError").asText()));
            }
            for (JsonNode m : t.path("members")) {
                members.row(thread, StatusFacts.text(m, "id"), StatusFacts.role(m), StatusFacts.number(m, "index"),
                        StatusFacts.text(m, "http"));
            }
        }
        if (threads.isEmpty()) {
            b.append("no threads\n");
        } else {
            threads.appendTo(b);
        }
        troubles.forEach(line -> b.append(line).append('\n'));
        if (!members.isEmpty()) {
            b.append('\n');
            members.appendTo(b);
        }
        return b.toString();
    }

    /** Left-aligned columns two spaces apart; numbers line up because they are the same kind of word. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();

        Table(String... header) {
            rows.add(header);
        }

        void row(String... cells) {
            rows.add(java.util.Arrays.stream(cells).map(StatusCommand::printable).toArray(String[]::new));
        }

        boolean isEmpty() {
            return rows.size() == 1;
        }

        void appendTo(StringBuilder b) {
            int columns = rows.get(0).length;
            int[] width = new int[columns];
            for (String[] r : rows) {
                for (int c = 0; c < columns; c++) {
                    width[c] = Math.max(width[c], r[c].length());
                }
            }
            for (String[] r : rows) {
                StringBuilder line = new StringBuilder();
                for (int c = 0; c < columns; c++) {
                    line.append(r[c]);
                    if (c < columns - 1) {
                        line.append(" ".repeat(width[c] - r[c].length() + 2));
                    }
                }
                b.append(line.toString().stripTrailing()).append('\n');
            }
        }
    }

    /**
     * One line of plain text: line breaks folded, and every other control character (an escape
     * sequence a node's value might carry would restyle or rewrite the user's terminal) shown as
     * {@code ?}.
     */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        Failures.oneLine(s).codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                b.append('?');
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static String abbreviate(String text) {
        return text.length() > 300 ? text.substring(0, 300) + "..." : text;
    }
}
