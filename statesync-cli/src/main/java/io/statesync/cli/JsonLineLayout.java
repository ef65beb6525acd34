package io.statesync.cli;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.time.format.DateTimeFormatter;

/**
 * One log event as one JSON object on one line, for log shippers:
 * {@code {"time":"2026-12-04T17:49:04.123Z","level":"INFO","thread":"main","logger":"io.statesync.node.Node","message":"..."}},
 * with {@code "error"} holding the stack trace when the event carries one. Times are UTC, ISO-8601.
 */
final class JsonLineLayout extends LayoutBase<ILoggingEvent> {
    private static final JsonStringEncoder ENCODER = JsonStringEncoder.getInstance();

    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder line = new StringBuilder(256);
        line.append("{\"time\":\"").append(DateTimeFormatter.ISO_INSTANT.format(event.getInstant()))
                .append("\",\"level\":\"").append(event.getLevel().toString()).append('"');
        field(line, "thread", event.getThreadName());
        field(line, "logger", event.getLoggerName());
        field(line, "message", event.getFormattedMessage());
        IThrowableProxy error = event.getThrowableProxy();
        if (error != null) {
            field(line, "error", ThrowableProxyUtil.asString(error));
        }
        return line.append("}\n").toString();
    }

    private static void field(StringBuilder line, String name, String value) {
        line.append(",\"").append(name).append("\":");
        if (value == null) {
            line.append("null");
        } else {
            line.append('"');
            ENCODER.quoteAsString(value, line);
            line.append('"');
        }
    }
}
