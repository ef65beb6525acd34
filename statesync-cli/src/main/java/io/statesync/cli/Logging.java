package io.statesync.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.jul.LevelChangePropagator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * How this process logs: one line per event on standard error, as text or as JSON lines, with
 * a level per logger. Configured in code, never by a file on the class path, so that a jar
 * dropped beside ours cannot change it.
 *
 * <p>Commands a person runs (fetch, share, demo...) stay quiet: they speak through their own
 * one-line messages and progress, and libraries log only warnings. A node logs at INFO: its
 * start, joins, sync phases with their rates, installs, elections and saves.
 */
final class Logging {
    /** The format of each line. */
    enum Format {
        /** {@code 2026-12-04T17:49:04.123Z INFO  [thread] logger - message}. */
        TEXT,
        /** One JSON object per line: time, level, thread, logger, message, error. */
        JSON;

        static Format parse(String text) {
            try {
                return valueOf(text.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("log format '" + text + "' is not text or json");
            }
        }
    }

    /** The logger name that stands for every logger. */
    static final String ROOT = "root";

    /**
     * A command's defaults. ScaleCube logs each refused connection to a departed member as a
     * warning; to someone fetching a snapshot only its errors matter.
     */
    static final Map<String, String> COMMAND_LEVELS = Map.of(ROOT, "WARN", "io.scalecube", "ERROR");

    /**
     * A node's defaults. Ratis logs every configuration key and every role change of every group
     * at INFO; the node logs the changes an operator acts on itself (elections included), so
     * Ratis says only what went wrong. Reactor Netty, and Netty's channel registration under it,
     * warn (with a stack trace) about each gossip connection still being opened or closed while
     * the node stops, which is the node stopping, not a fault.
     */
    static final Map<String, String> NODE_LEVELS = orderedOf(ROOT, "INFO", "org.apache.ratis", "WARN",
            "io.scalecube", "WARN", "reactor.netty", "ERROR", "io.netty.channel.AbstractChannel", "ERROR");

    private static final String TEXT_PATTERN =
            "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX, UTC} %-5level [%thread] %logger{36} - %msg%n";

    private Logging() {
    }

    /**
     * Sends every log event of this process to standard error in {@code format}, at the given
     * levels (logger name, or {@link #ROOT}, to level name); java.util.logging (gRPC inside
     * Ratis) goes the same way.
     *
     * @throws IllegalArgumentException for a level name that is not one of TRACE, DEBUG, INFO,
     *     WARN, ERROR, OFF
     */
    static void configure(Format format, Map<String, String> levels) {
        Map<String, Level> parsed = new LinkedHashMap<>();
        levels.forEach((logger, level) -> parsed.put(logger, level(level)));
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        configure(context, format, parsed);
    }

    /** Parses {@code LOGGER=LEVEL,LEVEL,...} (a bare level is the root's) into {@code into}. */
    static void parseLevels(String spec, Map<String, String> into) {
        for (String part : spec.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            String logger = eq < 0 ? ROOT : p.substring(0, eq).trim();
            String level = eq < 0 ? p : p.substring(eq + 1).trim();
            if (logger.isEmpty() || !logger.matches("[A-Za-z0-9_.$]+")) {
                throw new IllegalArgumentException("log level '" + p + "': '" + logger + "' is not a logger name");
            }
            level(level);
            into.put(logger, level.toUpperCase(Locale.ROOT));
        }
    }

    static void configure(LoggerContext context, Format format, Map<String, Level> levels) {
        context.reset();
        // Keeps java.util.logging's levels in step with ours, so that disabled JUL records cost nothing.
        LevelChangePropagator propagator = new LevelChangePropagator();
        propagator.setContext(context);
        propagator.setResetJUL(true);
        propagator.start();
        context.addListener(propagator);

        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName("stderr");
        appender.setTarget("System.err");
        appender.setEncoder(encoder(context, format));
        appender.start();

        ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(appender);
        root.setLevel(Level.INFO);
        levels.forEach((logger, level) -> context.getLogger(ROOT.equals(logger)
                ? org.slf4j.Logger.ROOT_LOGGER_NAME : logger).setLevel(level));

        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }
    }

    private static Encoder<ILoggingEvent> encoder(LoggerContext context, Format format) {
        if (format == Format.JSON) {
            JsonLineLayout layout = new JsonLineLayout();
            layout.setContext(context);
            layout.start();
            LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
            encoder.setContext(context);
            encoder.setLayout(layout);
            encoder.start();
            return encoder;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(TEXT_PATTERN);
        encoder.start();
        return encoder;
    }

    static Level level(String name) {
        String upper = name.trim().toUpperCase(Locale.ROOT);
        if (!List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF").contains(upper)) {
            throw new IllegalArgumentException("log level '" + name + "' is not one of trace, debug, info, warn, "
                    + "error, off");
        }
        return Level.valueOf(upper);
    }

    private static Map<String, String> orderedOf(String... pairs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put(pairs[i], pairs[i + 1]);
        }
        return java.util.Collections.unmodifiableMap(m);
    }
}
