package io.statesync.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.statesync.transfer.http.BoundedCall;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * A node's admin API ({@code --admin URL}, with {@code --token-file} when the node asks for a
 * token), and the one way the commands that control a node talk to it.
 */
final class AdminOption {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The most of an admin answer read. */
    private static final int MAX_ANSWER_BYTES = 16 << 20;

    @Spec(Spec.Target.MIXEE)
    private CommandSpec spec;

    @Option(names = "--admin", paramLabel = "URL", required = true,
            description = "the node's admin API: http://127.0.0.1:PORT, with admin.port from its configuration "
                    + "(the node also logs it at start)")
    private URI admin;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "a file holding the admin token (the node's admin.tokenFile), when the node asks for one")
    private Path tokenFile;

    URI uri() {
        return admin;
    }

    private String base() {
        if (!"http".equals(admin.getScheme()) || admin.getHost() == null) {
            throw new ParameterException(spec.commandLine(), "--admin: '" + admin + "' is not an http://host:port URL");
        }
        return admin.toString().replaceAll("/+$", "");
    }

    private String authorization() throws CommandFailure {
        if (tokenFile == null) {
            return null;
        }
        try {
            String token = Files.readString(tokenFile, StandardCharsets.US_ASCII).strip();
            if (token.isEmpty() || token.contains("\n")) {
                throw new CommandFailure("--token-file " + tokenFile + ": expected one token on one line");
            }
            return "Bearer " + token;
        } catch (NoSuchFileException e) {
            throw new CommandFailure("--token-file " + tokenFile + ": no such file");
        } catch (IOException e) {
            throw new CommandFailure("--token-file " + tokenFile + ": " + Failures.describeIo(e), e);
        }
    }

    /**
     * Sends a request to {@code path} (below the admin URL, e.g. {@code /admin/sync/status}); a
     * non-2xx answer becomes a one-line failure with the node's reason.
     */
    JsonNode send(String method, String path, String body, Duration timeout) throws CommandFailure,
            InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base() + path)).timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        String authorization = authorization();
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        HttpResponse<byte[]> res;
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            res = BoundedCall.send(client, request.build(), MAX_ANSWER_BYTES);
        } catch (IOException e) {
            throw new CommandFailure("cannot reach " + admin + ": " + Failures.describeIo(e), e);
        }
        String text = new String(res.body(), StandardCharsets.UTF_8).strip();
        if (res.statusCode() / 100 != 2) {
            String hint = res.statusCode() == 401 && tokenFile == null ? " (give --token-file)" : "";
            throw new CommandFailure(admin + " refused (" + res.statusCode() + "): "
                    + Failures.oneLine(text.replaceAll("^\\d{3} ", "")) + hint);
        }
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new CommandFailure(admin + " answered something that is not JSON: " + Failures.oneLine(text));
        }
    }
}
