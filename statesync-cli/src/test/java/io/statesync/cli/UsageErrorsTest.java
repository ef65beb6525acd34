package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** A wrong command line is one line on stderr and exit code 2: never a stack trace, never a partial run. */
class UsageErrorsTest {
    /** Some manifest CID: well-formed, dag-json, held by nobody. */
    static final String CID = "baguqeeraakqmk3xyu22uzbedhdke537m4k7qknkeabpxbcm3o4rrolaesoea";
    /** A well-formed CID of a raw block: a chunk, not a snapshot. */
    static final String RAW_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    @TempDir
    Path tmp;

    static Stream<Arguments> badCommandLines() {
        String src = "--source=http://127.0.0.1:1";
        return Stream.of(
                Arguments.of("no command", new String[] {}, "missing command"),
                Arguments.of("unknown command", new String[] {"fetchh"}, "fetchh"),
                Arguments.of("unknown flag", new String[] {"fetch", CID, src, "--out=o", "--bogus"}, "--bogus"),
                Arguments.of("missing --out", new String[] {"fetch", CID, src}, "--out"),
                Arguments.of("missing --source", new String[] {"fetch", CID, "--out=o"}, "--source"),
                Arguments.of("malformed CID", new String[] {"fetch", "not-a-cid", src, "--out=o"}, "not a CID"),
                Arguments.of("truncated CID", new String[] {"fetch", CID.substring(0, 20), src, "--out=o"}, "not a CID"),
                Arguments.of("CIDv0", new String[] {"fetch", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", src, "--out=o"},
                        "CIDv0"),
                Arguments.of("raw block CID", new String[] {"fetch", RAW_CID, src, "--out=o"}, "raw block"),
                Arguments.of("bad duration", new String[] {"fetch", CID, src, "--out=o", "--deadline=10x"}, "not a duration"),
                Arguments.of("duration without unit", new String[] {"fetch", CID, src, "--out=o", "--retry-wait=5"},
                        "not a duration"),
                Arguments.of("zero deadline", new String[] {"fetch", CID, src, "--out=o", "--deadline=0s"}, "deadline"),
                Arguments.of("bad URL scheme", new String[] {"fetch", CID, "--source=ftp://host", "--out=o"}, "http"),
                Arguments.of("unparsable URL", new String[] {"fetch", CID, "--source=http://[oops", "--out=o"}, "not a URL"),
                Arguments.of("URL without host", new String[] {"fetch", CID, "--source=http:///x", "--out=o"}, "host"),
                Arguments.of("zero parallelism", new String[] {"fetch", CID, src, "--out=o", "--parallel=0"}, "parallelism"),
                Arguments.of("zero tries", new String[] {"fetch", CID, src, "--out=o", "--max-tries=0"}, "tries"),
                Arguments.of("not a number", new String[] {"fetch", CID, src, "--out=o", "--per-source=many"}, "--per-source"),
                Arguments.of("serve without port", new String[] {"serve", "--store=s"}, "--port"),
                Arguments.of("serve port out of range", new String[] {"serve", "--store=s", "--port=70000"}, "--port"),
                Arguments.of("serve zero rate limit", new String[] {"serve", "--store=s", "--port=0", "--rate-limit=0"}, "--rate-limit"),
                Arguments.of("serve bad rate limit", new String[] {"serve", "--store=s", "--port=0", "--rate-limit=fast"}, "not a size"),
                Arguments.of("share without paths", new String[] {"share", "--store=s"}, "PATH"),
                Arguments.of("share chunk size too large", new String[] {"share", "--store=s", "--chunk-size=2MiB", "."},
                        "--chunk-size"),
                Arguments.of("share decimal size unit", new String[] {"share", "--store=s", "--chunk-size=1MB", "."},
                        "not a size"),
                Arguments.of("share unknown chunking", new String[] {"share", "--store=s", "--chunking=rabin", "."},
                        "--chunking must be cdc or fixed"),
                Arguments.of("fetch zero sync interval", new String[] {"fetch", CID, src, "--out=o", "--sync-every=0"},
                        "sync interval"),
                Arguments.of("share bad metadata", new String[] {"share", "--store=s", "--meta=novalue", "."}, "KEY=VALUE"),
                Arguments.of("demo size too small", new String[] {"demo-transfer", "--size=10"}, "--size"),
                Arguments.of("demo size unparsable", new String[] {"demo-transfer", "--size=lots"}, "not a size"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badCommandLines")
    void badCommandLineIsOneLineAndExitTwo(String name, String[] args, String mentions) {
        Cli.Result r = Cli.run(Cli.env(tmp.resolve("home")), args);

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains(mentions), () -> "should mention " + mentions + ": " + r.lastErrLine());
        assertEquals("", r.out(), "nothing on stdout");
    }

    @Test
    void usageErrorsCreateNothing() {
        Cli.Result r = Cli.run(Cli.env(tmp.resolve("home")), "fetch", CID, "--source=http://127.0.0.1:1",
                "--out=" + tmp.resolve("out"), "--deadline=nope");

        assertEquals(Failures.USAGE, r.exitCode());
        assertFalse(tmp.resolve("out").toFile().exists());
        assertFalse(tmp.resolve("home").toFile().exists());
    }

    @ParameterizedTest
    @ValueSource(strings = {"share", "serve", "fetch", "demo-transfer"})
    void helpGoesToStdoutWithExitZero(String command) {
        Cli.Result r = Cli.run(Cli.env(tmp), command, "--help");

        assertEquals(0, r.exitCode());
        assertTrue(r.out().contains("Usage: statesync " + command), r.out());
        assertEquals("", r.err());
    }

    @Test
    void versionIsPrinted() {
        Cli.Result r = Cli.run(Cli.env(tmp), "--version");

        assertEquals(0, r.exitCode());
        assertTrue(r.out().startsWith("statesync "), r.out());
    }
}
