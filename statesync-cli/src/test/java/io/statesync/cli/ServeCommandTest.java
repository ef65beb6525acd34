package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Await;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** serve runs until the process is asked to stop. Needs the file-share server of statesync-transfer. */
class ServeCommandTest {
    private static final Pattern SERVING = Pattern.compile("serving (\\S+) at (http://127\\.0\\.0\\.1:(\\d+))");

    @TempDir
    Path tmp;

    private final ExecutorService executor = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() {
        executor.shutdownNow();
    }

    @Test
    void serveCreatesAMissingStoreServesItAndStopsCleanlyOnShutdown() throws Exception {
        Path store = tmp.resolve("not/yet/there");
        Cli.ManualShutdown shutdown = new Cli.ManualShutdown();
        StringWriter err = new StringWriter();
        Environment env = Cli.env(tmp, shutdown);
        var cmd = Main.commandLine(env, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));

        Future<Integer> running = executor.submit(() -> Main.execute(cmd, env, "serve", "--store", store.toString(),
                "--port", "0"));
        Await.until("the serving line", Duration.ofSeconds(20),
                () -> SERVING.matcher(err.toString()).find() || running.isDone());
        assertFalse(running.isDone(), err::toString);
        Matcher m = SERVING.matcher(err.toString());
        assertTrue(m.find());
        assertEquals(store.toAbsolutePath().normalize().toString(), m.group(1));
        assertTrue(Files.isDirectory(store.resolve("ipfs")), "the store was created");

        byte[] content = "state of block 42".getBytes(StandardCharsets.UTF_8);
        Cid cid = ContentStore.open(store).put(Codec.RAW, content);
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<byte[]> blob = http.send(HttpRequest.newBuilder(URI.create(m.group(2) + "/ipfs/" + cid)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, blob.statusCode());
        assertArrayEquals(content, blob.body());
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(m.group(2) + "/health")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode());

        shutdown.fire();

        assertEquals(0, running.get(20, TimeUnit.SECONDS));
        assertTrue(err.toString().contains("stopped serving"), err::toString);
        int port = Integer.parseInt(m.group(3));
        assertThrows(IOException.class, () -> new Socket(InetAddress.getLoopbackAddress(), port).close(),
                "the port is closed");
    }

    @Test
    void aPortInUseIsAOneLineFailure() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Cli.Result r = Cli.run(Cli.env(tmp), "serve", "--store=" + tmp.resolve("store"),
                    "--port=" + taken.getLocalPort());

            r.assertOneLineFailure(Failures.FAILED);
            assertTrue(r.lastErrLine().contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()), r.err());
        }
    }
}
