package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync members}: lists a running cluster's members per thread, removes a dead member
 * ({@code --remove ID}), or makes the node itself leave ({@code --leave}), through a node's admin API.
 */
@Command(name = "members", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Lists the members of every thread of a running node's cluster; --remove ID takes a (dead) "
                + "member out of every thread; --leave makes the node itself leave the cluster and stop."})
final class MembersCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    private CommandSpec spec;

    @Option(names = "--node", paramLabel = "URL", required = true, description = "a running node's HTTP URL")
    private URI node;

    @Option(names = "--remove", paramLabel = "ID", description = "remove this member from every thread")
    private String remove;

    @Option(names = "--leave", description = "the node at --node leaves the cluster, then stops")
    private boolean leave;

    @Override
    public Integer call() throws Exception {
        if (remove != null && leave) {
            throw new ParameterException(spec.commandLine(), "give --remove ID or --leave, not both");
        }
        if (!"http".equals(node.getScheme()) || node.getHost() == null) {
            throw new ParameterException(spec.commandLine(), "--node: '" + node + "' is not an http://host:port URL");
        }
        if (remove != null && !remove.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new ParameterException(spec.commandLine(), "--remove: member ids are 1-64 of [A-Za-z0-9._-]");
        }
        String base = node.toString().replaceAll("/+$", "");
        HttpRequest request = remove != null
                ? HttpRequest.newBuilder(URI.create(base + "/admin/members/" + remove + "/remove"))
                        .POST(HttpRequest.BodyPublishers.noBody()).build()
                : leave ? HttpRequest.newBuilder(URI.create(base + "/admin/leave"))
                        .POST(HttpRequest.BodyPublishers.noBody()).build()
                : HttpRequest.newBuilder(URI.create(base + "/admin/members")).GET().build();
        HttpResponse<byte[]> res;
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            // A change waits for the leader to commit it, through an election if one is under way.
            res = client.send(HttpRequest.newBuilder(request, (k, v) -> true).timeout(Duration.ofSeconds(60)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new CommandFailure("cannot reach " + node + ": " + Failures.describeIo(e), e);
        }
        String body = new String(res.body(), StandardCharsets.UTF_8).strip();
        if (res.statusCode() != 200) {
            throw new CommandFailure(node + " refused (" + res.statusCode() + "): " + body.replaceAll("^\\d{3} ", ""));
        }
        PrintWriter out = spec.commandLine().getOut();
        JsonNode json = JSON.readTree(body);
        if (remove != null || leave) {
            out.println((leave ? "left: " : "removed " + remove + ": ") + json.path("threads"));
        } else {
            for (Iterator<Map.Entry<String, JsonNode>> it = json.path("threads").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> t = it.next();
                StringBuilder line = new StringBuilder(t.getKey()).append(':');
                for (JsonNode m : t.getValue()) {
                    line.append(' ').append(m.path("id").asText()).append(" (").append(m.path("role").asText())
                            .append(", ").append(m.path("http").asText()).append(')');
                }
                out.println(line);
            }
        }
        out.flush();
        return Failures.OK;
    }
}
