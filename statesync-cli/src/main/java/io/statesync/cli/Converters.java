package io.statesync.cli;

import io.statesync.core.units.Durations;
import io.statesync.core.units.Sizes;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.CidFormatException;
import io.statesync.transfer.fetch.Source;
import java.time.Duration;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Turns command-line words into values. Each failure is a {@link TypeConversionException}, which
 * picocli reports as a one-line usage error naming the option.
 */
final class Converters {
    private Converters() {
    }

    /** Registers the converters for every command of {@code cmd}; call after adding subcommands. */
    static void registerAll(CommandLine cmd) {
        cmd.registerConverter(Duration.class, Converters::duration);
        cmd.registerConverter(Cid.class, Converters::cid);
        cmd.registerConverter(Source.class, Converters::source);
    }

    static Duration duration(String text) {
        try {
            return Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    static Cid cid(String text) {
        try {
            return Cid.parse(text.trim());
        } catch (CidFormatException e) {
            throw new TypeConversionException("'" + text + "' is not a CID: " + e.getMessage());
        }
    }

    static Source source(String text) {
        try {
            return Source.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    /** A byte size such as {@code 256MiB}; for options typed {@code long}. */
    static final class Size implements ITypeConverter<Long> {
        @Override
        public Long convert(String text) {
            try {
                return Sizes.parse(text);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
