package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.testing.Ports;
import io.statesync.node.Node;
import io.statesync.node.NodeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code statesync sync} against a real one-node cluster in this JVM: what it prints, and that
 * every wrong command line and every refusal of the node is one line.
 */
class SyncCommandTest {
    private static final String HEX = "ab".repeat(32);

    @TempDir
    static Path dir;
    private static Node node;
    private static String url;
    private static Path tokenFile;

    @BeforeAll
    static void start() throws Exception {
        // The node asks for a token, so every command here also shows that --token-file works.
        tokenFile = dir.resolve("admin.token");
        Files.writeString(tokenFile, "0123456789abcdef0123456789abcdef-sync-cli\n");
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        node = OneNode.start(dir, "sync-cli", s -> s.withShareInterval(Duration.ofHours(1)),
                new NodeConfig.Admin("127.0.0.1", 0, tokenFile));
        url = node.adminUri().toString();
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    static Stream<Arguments> badCommandLines() {
        String n = "--admin=http://127.0.0.1:1";
        return Stream.of(
                Arguments.of(new String[] {"sync"}, "missing subcommand"),
                Arguments.of(new String[] {"sync", "load", n}, "--block"),
                Arguments.of(new String[] {"sync", "load", "--block=t0=" + HEX}, "--admin"),
                Arguments.of(new String[] {"sync", "load", n, "--block=t0"}, "is not THREAD=BLOCK"),
                Arguments.of(new String[] {"sync", "load", n, "--block=t0=zz"}, "must be 64 hex digits"),
                Arguments.of(new String[] {"sync", "load", n, "--block=T0=" + HEX}, "is not a thread name"),
                Arguments.of(new String[] {"sync", "load", n, "--block=t0=" + HEX, "--block=t0=" + HEX}, "named twice"),
                Arguments.of(new String[] {"sync", "load", n, "--block=t0=" + HEX, "--wait=0s"}, "--wait"),
                Arguments.of(new String[] {"sync", "load", n, "--block=t0=" + HEX, "--wait=soon"}, "--wait"),
                Arguments.of(new String[] {"sync", "reset", "--admin=ftp://host"}, "not an http://host:port URL"),
                Arguments.of(new String[] {"sync", "share", n, "--wait=2m"}, "--wait"),
                Arguments.of(new String[] {"sync", "share", n, "--thread=T 0"}, "not a thread name"),
                Arguments.of(new String[] {"sync", "status", n, "--bogus"}, "--bogus"));
    }

    @ParameterizedTest
    @MethodSource("badCommandLines")
    void aWrongCommandLineIsOneLineAndExit2(String[] args, String mentions) {
        Cli.Result r = Cli.run(Cli.env(dir), args);
        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains(mentions), r.err());
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of(new String[] {"sync", "reset"}, "refused (409): nothing to reset"),
                Arguments.of(new String[] {"sync", "load", "--block=t9=" + HEX}, "refused (404): thread t9 is not run"),
                Arguments.of(new String[] {"sync", "load", "--block=t0=" + HEX}, "refused (409): node n1 leads thread t0"),
                Arguments.of(new String[] {"sync", "share", "--thread=t9"}, "refused (404): thread t9"));
    }

    @ParameterizedTest
    @MethodSource("refusals")
    void aRefusalOfTheNodeIsOneLineAndExit1(String[] args, String mentions) {
        String[] withNode = Stream.concat(Stream.of(args), Stream.of("--admin=" + url, "--token-file=" + tokenFile))
                .toArray(String[]::new);
        Cli.Result r = Cli.run(Cli.env(dir), withNode);
        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains(mentions), r.err());
    }

    @Test
    void anUnreachableNodeIsOneLineAndExit1() throws IOException {
        Cli.Result r = Cli.run(Cli.env(dir), "sync", "status", "--admin=http://127.0.0.1:" + Ports.free());
        r.assertOneLineFailure(Failures.FAILED);
        assertTrue(r.lastErrLine().contains("cannot reach"), r.err());
    }

    @Test
    void statusAndShareReportWhatTheNodeDid() {
        Cli.Result status = Cli.run(Cli.env(dir), "sync", "status", "--admin=" + url, "--token-file=" + tokenFile);
        assertEquals(0, status.exitCode(), status::err);
        assertTrue(status.out().startsWith("t0: height "), status.out());
        assertTrue(status.out().contains("leader"), status.out());

        Cli.Result share = Cli.run(Cli.env(dir), "sync", "share", "--admin=" + url, "--token-file=" + tokenFile,
                "--wait=20s");
        assertEquals(0, share.exitCode(), share::err);
        assertTrue(share.out().matches("(?s)t0: saved block [0-9a-f]{64} \\(height \\d+\\), manifest b\\S+\\s*"),
                share.out());

        // A second request within the hour is refused, on one line, with when the next may come
        Cli.Result again = Cli.run(Cli.env(dir), "sync", "share", "--admin=" + url, "--token-file=" + tokenFile);
        again.assertOneLineFailure(Failures.FAILED);
        assertTrue(again.lastErrLine().contains("refused (429)") && again.lastErrLine().contains("at most one per"),
                again.err());
    }

    @Test
    void withoutTheTokenOrWithAnotherTheNodeRefuses401() throws IOException {
        Cli.Result none = Cli.run(Cli.env(dir), "sync", "status", "--admin=" + url);
        none.assertOneLineFailure(Failures.FAILED);
        assertTrue(none.lastErrLine().contains("refused (401)") && none.lastErrLine().contains("give --token-file"),
                none.err());

        Path other = dir.resolve("other.token");
        Files.writeString(other, "not-the-token-0123456789abcdef0123456789");
        Cli.Result wrong = Cli.run(Cli.env(dir), "sync", "reset", "--admin=" + url, "--token-file=" + other);
        wrong.assertOneLineFailure(Failures.FAILED);
        assertTrue(wrong.lastErrLine().contains("refused (401): wrong admin token"), wrong.err());

        Cli.Result missing = Cli.run(Cli.env(dir), "sync", "status", "--admin=" + url, "--token-file=" + dir.resolve("nope"));
        missing.assertOneLineFailure(Failures.FAILED);
        assertTrue(missing.lastErrLine().contains("--token-file " + dir.resolve("nope") + ": no such file"), missing.err());
    }
}
