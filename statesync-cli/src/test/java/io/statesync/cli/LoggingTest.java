package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The process's logging: text and JSON lines on standard error, levels per logger, JUL bridged. */
class LoggingTest {
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
    private PrintStream realErr;

    @BeforeEach
    void captureStandardError() {
        realErr = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreTheCommandDefaults() {
        System.setErr(realErr);
        Logging.configure(Logging.Format.TEXT, Logging.COMMAND_LEVELS);
    }

    private List<String> lines() {
        return captured.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void aCommandLogsOnlyWarningsAndErrors() {
        Logging.configure(Logging.Format.TEXT, Logging.COMMAND_LEVELS);
        Logger log = LoggerFactory.getLogger("io.statesync.transfer.Test");

        log.info("progress that the command prints itself");
        log.warn("a source refused");

        assertEquals(1, lines().size(), lines().toString());
        assertTrue(lines().get(0).contains("WARN") && lines().get(0).endsWith("a source refused"), lines().toString());
    }

    @Test
    void aNodeLogsInfoAsTextWithIsoTimesAndThreadNames() throws Exception {
        Logging.configure(Logging.Format.TEXT, Logging.NODE_LEVELS);
        Thread t = Thread.ofPlatform().name("statesync-test-thread").start(() ->
                LoggerFactory.getLogger("io.statesync.node.Node").info("node {} serving", "n1"));
        t.join();
        LoggerFactory.getLogger("org.apache.ratis.server.impl.RaftServerImpl").info("a Ratis detail");

        assertEquals(1, lines().size(), lines().toString());
        assertTrue(lines().get(0).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  "
                + "\\[statesync-test-thread] io\\.statesync\\.node\\.Node - node n1 serving"), lines().get(0));
    }

    @Test
    void jsonLinesCarryTheFieldsAndEscapeTheMessage() throws Exception {
        Logging.configure(Logging.Format.JSON, Logging.NODE_LEVELS);

        LoggerFactory.getLogger("io.statesync.groups.Group").warn("a \"quoted\"\nmessage", new IllegalStateException("boom"));

        List<String> lines = lines();
        assertEquals(1, lines.size(), "one event, one line, the stack trace inside it: " + lines);
        JsonNode e = new ObjectMapper().readTree(lines.get(0));
        assertTrue(e.path("time").asText().matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z"), e.toString());
        assertEquals("WARN", e.path("level").asText());
        assertEquals(Thread.currentThread().getName(), e.path("thread").asText());
        assertEquals("io.statesync.groups.Group", e.path("logger").asText());
        assertEquals("a \"quoted\"\nmessage", e.path("message").asText());
        assertTrue(e.path("error").asText().startsWith("java.lang.IllegalStateException: boom"), e.toString());
    }

    @Test
    void levelsAreSetPerLoggerAndJavaUtilLoggingIsBridged() {
        Map<String, String> levels = new LinkedHashMap<>(Logging.NODE_LEVELS);
        Logging.parseLevels("org.apache.ratis=debug, io.statesync.node=error", levels);
        Logging.configure(Logging.Format.TEXT, levels);

        LoggerFactory.getLogger("org.apache.ratis.grpc.Test").debug("ratis debug shown");
        LoggerFactory.getLogger("io.statesync.node.Test").warn("node warning hidden");
        java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.grpc.Test").warning("grpc through JUL");
        java.util.logging.Logger.getLogger("some.jul.Test").fine("below the root's INFO");

        String out = String.join("\n", lines());
        assertTrue(out.contains("ratis debug shown"), out);
        assertFalse(out.contains("node warning hidden"), out);
        assertTrue(out.contains("WARN  [") && out.contains("grpc through JUL"), out);
        assertFalse(out.contains("below the root"), out);
    }

    @Test
    void theLevelsVariableRaisesACommandsLevelsAndABadOneIsOneLine() {
        Environment debug = new Environment(Map.of(Main.LOG_LEVELS_VARIABLE, "io.statesync.transfer=debug"),
                java.nio.file.Path.of("."), false, new Cli.ManualShutdown());
        assertEquals(null, Main.configureCommandLogging(debug));
        LoggerFactory.getLogger("io.statesync.transfer.Test").debug("a detail asked for");
        LoggerFactory.getLogger("io.statesync.node.Test").info("still quiet");
        assertEquals(1, lines().size(), lines().toString());
        assertTrue(lines().get(0).endsWith("a detail asked for"), lines().toString());

        Environment bad = new Environment(Map.of(Main.LOG_LEVELS_VARIABLE, "io.statesync=loud"),
                java.nio.file.Path.of("."), false, new Cli.ManualShutdown());
        assertEquals("statesync: STATESYNC_LOG_LEVELS: log level 'loud' is not one of trace, debug, info, warn, "
                + "error, off", Main.configureCommandLogging(bad));
        assertEquals(null, Main.configureCommandLogging(new Environment(Map.of(), java.nio.file.Path.of("."), false,
                new Cli.ManualShutdown())), "no variable, nothing to do");
    }

    @Test
    void aBadLevelOrLoggerNameIsOneClearLine() {
        Map<String, String> levels = new LinkedHashMap<>();
        var level = assertThrows(IllegalArgumentException.class, () -> Logging.parseLevels("io.statesync=loud", levels));
        assertEquals("log level 'loud' is not one of trace, debug, info, warn, error, off", level.getMessage());
        var logger = assertThrows(IllegalArgumentException.class, () -> Logging.parseLevels("a b=info", levels));
        assertTrue(logger.getMessage().contains("'a b' is not a logger name"), logger.getMessage());
        var format = assertThrows(IllegalArgumentException.class, () -> Logging.Format.parse("xml"));
        assertEquals("log format 'xml' is not text or json", format.getMessage());

        Logging.parseLevels("debug", levels);
        assertEquals(Map.of(Logging.ROOT, "DEBUG"), levels, "a bare level is every logger's");
    }
}
