package io.statesync.cli;

import io.statesync.core.units.Durations;
import io.statesync.core.units.Sizes;
import io.statesync.transfer.fetch.FetchProgress;
import io.statesync.transfer.fetch.SourceStats;
import io.statesync.transfer.fetch.SourceStats.SourceState;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Shows how a transfer goes, on standard error: on a terminal one bar redrawn in place with
 * {@code \r}; otherwise (logs, CI, pipes) a plain line every couple of seconds, so a log holds
 * a readable history rather than thousands of carriage returns. Thread-safe: the fetcher
 * reports from its own threads.
 */
final class ProgressReporter {
    /** How progress is drawn. */
    enum Style {
        /** One line redrawn in place; for terminals. */
        BAR,
        /** A new line every {@link #LINE_INTERVAL}; for logs and pipes. */
        LINES
    }

    /** How often a line is written in {@link Style#LINES} mode. */
    static final Duration LINE_INTERVAL = Duration.ofSeconds(2);
    /** How often the bar is redrawn: fast enough to look live, slow enough to cost nothing. */
    static final Duration BAR_INTERVAL = Duration.ofMillis(100);
    private static final int BAR_WIDTH = 24;

    private final PrintWriter err;
    private final Style style;
    private final LongSupplier nanoClock;
    private final long intervalNanos;
    /** When the last line or bar was drawn; a phase starts with this set to its start. */
    private long lastDrawn;
    /** Width of the bar as last drawn, so a shorter redraw blanks what is left of it. */
    private int barLength;
    /** The materialize phase: its total, what is written, and when it started. */
    private long writeTotal;
    private long writeDone;
    private long writeStart;

    ProgressReporter(PrintWriter err, Style style, LongSupplier nanoClock) {
        this.err = err;
        this.style = style;
        this.nanoClock = nanoClock;
        this.intervalNanos = (style == Style.BAR ? BAR_INTERVAL : LINE_INTERVAL).toNanos();
        this.lastDrawn = nanoClock.getAsLong();
    }

    /** A reporter for this environment's standard error. */
    static ProgressReporter forEnvironment(Environment env, PrintWriter err) {
        return new ProgressReporter(err, env.interactive() ? Style.BAR : Style.LINES, System::nanoTime);
    }

    /** Takes a fetch report; draws it if it is time. The final report of a fetch is always drawn on a bar. */
    synchronized void onFetch(FetchProgress p) {
        boolean complete = p.bytesTotal() > 0 && p.bytesDone() >= p.bytesTotal();
        if (due() || style == Style.BAR && complete) {
            draw(fetchLine(p), p.fraction());
        }
    }

    /** Starts the materialize phase: {@code totalBytes} are about to be written. */
    synchronized void startWrite(long totalBytes) {
        writeTotal = totalBytes;
        writeDone = 0;
        writeStart = nanoClock.getAsLong();
        lastDrawn = writeStart;
    }

    /** Takes the materializer's report that {@code bytes} more were written. */
    synchronized void onWritten(long bytes) {
        writeDone += bytes;
        if (due() || style == Style.BAR && writeDone >= writeTotal) {
            double seconds = (nanoClock.getAsLong() - writeStart) / 1e9;
            double rate = seconds > 0 ? writeDone / seconds : 0;
            Duration eta = rate > 0 ? Duration.ofMillis((long) ((writeTotal - writeDone) / rate * 1000)) : null;
            double fraction = writeTotal == 0 ? 1.0 : (double) writeDone / writeTotal;
            draw(line("write", fraction, writeDone, writeTotal, rate, eta), fraction);
        }
    }

    /** Starts a named phase whose progress is reported by {@link #onPhase}. */
    synchronized void startPhase() {
        writeStart = nanoClock.getAsLong();
        lastDrawn = writeStart;
    }

    /**
     * Takes a report of a named phase ({@code sync 42% 108.0/256.0 MiB 95.3 MiB/s eta 2s} and
     * {@code extra}); draws it if it is time, and always when {@code force}.
     */
    synchronized void onPhase(String phase, long done, long total, String extra, boolean force) {
        if (due() || force) {
            double seconds = (nanoClock.getAsLong() - writeStart) / 1e9;
            double rate = seconds > 0 ? done / seconds : 0;
            Duration eta = rate > 0 && total > done ? Duration.ofMillis((long) ((total - done) / rate * 1000)) : null;
            double fraction = total <= 0 ? 0 : Math.min(1.0, (double) done / total);
            draw(line(phase, fraction, done, total, rate, eta) + (extra.isEmpty() ? "" : " " + extra), fraction);
        }
    }

    /** Ends the current phase: a bar gets its line break, so what follows starts on a fresh line. */
    synchronized void finish() {
        if (style == Style.BAR && barLength > 0) {
            err.print('\n');
            err.flush();
            barLength = 0;
        }
        lastDrawn = nanoClock.getAsLong();
    }

    /** {@code fetch 42% 108.0/256.0 MiB 95.3 MiB/s eta 2s sources 2 active 1 banned}. */
    static String fetchLine(FetchProgress p) {
        return line("fetch", p.fraction(), p.bytesDone(), p.bytesTotal(), p.bytesPerSecond(), p.eta())
                + " " + sources(p.sources());
    }

    /** {@code sources 2 active 1 banned}, with backing-off sources counted when there are any. */
    static String sources(List<SourceStats> sources) {
        long active = sources.stream().filter(s -> s.state() == SourceState.ACTIVE).count();
        long backingOff = sources.stream().filter(s -> s.state() == SourceState.BACKING_OFF).count();
        long banned = sources.stream().filter(s -> s.state() == SourceState.BANNED).count();
        return "sources " + active + " active" + (backingOff > 0 ? " " + backingOff + " backing-off" : "")
                + " " + banned + " banned";
    }

    private static String line(String phase, double fraction, long done, long total, double rate, Duration eta) {
        return String.format(Locale.ROOT, "%s %d%% %.1f/%.1f MiB %.1f MiB/s eta %s", phase, percent(fraction),
                Sizes.toMib(done), Sizes.toMib(total), Sizes.toMib(rate), eta == null ? "?" : Durations.format(roundUp(eta)));
    }

    private boolean due() {
        long now = nanoClock.getAsLong();
        if (now - lastDrawn >= intervalNanos) {
            lastDrawn = now;
            return true;
        }
        return false;
    }

    private void draw(String text, double fraction) {
        if (style == Style.LINES) {
            err.println(text);
        } else {
            int filled = (int) Math.round(Math.max(0, Math.min(1, fraction)) * BAR_WIDTH);
            String bar = "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "] " + text;
            // Blank out the tail of a longer previous bar instead of relying on terminal escapes.
            String pad = " ".repeat(Math.max(0, barLength - bar.length()));
            err.print('\r' + bar + pad);
            barLength = bar.length();
        }
        err.flush();
    }

    private static int percent(double fraction) {
        return (int) Math.floor(Math.max(0, Math.min(1, fraction)) * 100);
    }

    /** Whole seconds, rounded up, so a nearly finished phase says 1s, not 0ms. */
    private static Duration roundUp(Duration d) {
        if (d.isNegative() || d.isZero()) {
            return Duration.ZERO;
        }
        long s = d.toSeconds() + (d.toNanosPart() > 0 ? 1 : 0);
        return Duration.ofSeconds(s);
    }
}
