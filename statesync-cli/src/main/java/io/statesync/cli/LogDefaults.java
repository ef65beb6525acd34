package io.statesync.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Logback's first configuration of the process (found through {@code META-INF/services}): a
 * command's quiet defaults, before any command has parsed its options. Logback would otherwise
 * print every DEBUG event until told otherwise. {@code statesync node} reconfigures at start.
 */
public final class LogDefaults extends ContextAwareBase implements Configurator {
    @Override
    public ExecutionStatus configure(LoggerContext context) {
        Map<String, Level> levels = new LinkedHashMap<>();
        Logging.COMMAND_LEVELS.forEach((logger, level) -> levels.put(logger, Logging.level(level)));
        Logging.configure(context, Logging.Format.TEXT, levels);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}
