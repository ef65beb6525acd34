package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.transfer.fetch.FetchProgress;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceStats;
import io.statesync.transfer.fetch.SourceStats.SourceState;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressReporterTest {
    private static final long MIB = 1 << 20;

    private final StringWriter text = new StringWriter();
    private final AtomicLong clock = new AtomicLong();

    @Test
    void aFetchLineShowsPercentSizesRateEtaAndSources() {
        FetchProgress p = progress(108 * MIB, 256 * MIB, Duration.ofMillis(1600),
                stats("http://a:1", SourceState.ACTIVE), stats("http://b:1", SourceState.ACTIVE),
                stats("http://c:1", SourceState.BANNED));

        assertEquals("fetch 42% 108.0/256.0 MiB 95.3 MiB/s eta 2s sources 2 active 1 banned",
                ProgressReporter.fetchLine(p));
    }

    @Test
    void backingOffSourcesAreCountedAndAnUnknownEtaIsAQuestionMark() {
        FetchProgress p = progress(0, 10 * MIB, null, stats("http://a:1", SourceState.BACKING_OFF));

        assertEquals("fetch 0% 0.0/10.0 MiB 95.3 MiB/s eta ? sources 0 active 1 backing-off 0 banned",
                ProgressReporter.fetchLine(p));
    }

    @Test
    void withoutATerminalALineIsWrittenEveryTwoSeconds() {
        ProgressReporter r = reporter(ProgressReporter.Style.LINES);
        FetchProgress p = progress(MIB, 4 * MIB, Duration.ofSeconds(1), stats("http://a:1", SourceState.ACTIVE));

        for (int i = 0; i < 10; i++) {
            clock.addAndGet(Duration.ofMillis(500).toNanos());
            r.onFetch(p);
        }
        r.finish();

        List<String> lines = text.toString().lines().toList();
        assertEquals(2, lines.size(), text.toString());
        assertFalse(text.toString().contains("\r"));
        assertTrue(lines.get(0).startsWith("fetch 25% 1.0/4.0 MiB"), lines.get(0));
    }

    @Test
    void onATerminalTheBarIsRedrawnInPlaceAndEndsWithANewline() {
        ProgressReporter r = reporter(ProgressReporter.Style.BAR);

        clock.addAndGet(Duration.ofSeconds(1).toNanos());
        r.onFetch(progress(MIB, 4 * MIB, Duration.ofSeconds(3), stats("http://a:1", SourceState.ACTIVE)));
        clock.addAndGet(Duration.ofSeconds(1).toNanos());
        r.onFetch(progress(4 * MIB, 4 * MIB, Duration.ZERO, stats("http://a:1", SourceState.ACTIVE)));
        r.finish();

        String out = text.toString();
        assertEquals(2, out.chars().filter(c -> c == '\r').count(), out);
        assertTrue(out.contains("[######..................] fetch 25%"), out);
        assertTrue(out.contains("[########################] fetch 100%"), out);
        assertTrue(out.endsWith("\n"));
        assertEquals(1, out.chars().filter(c -> c == '\n').count(), "one line in the end");
    }

    @Test
    void theWritePhaseReportsItsOwnProgress() {
        ProgressReporter r = reporter(ProgressReporter.Style.LINES);
        r.startWrite(8 * MIB);

        for (int i = 0; i < 8; i++) {
            clock.addAndGet(Duration.ofSeconds(1).toNanos());
            r.onWritten(MIB);
        }
        r.finish();

        List<String> lines = text.toString().lines().toList();
        assertEquals(4, lines.size(), text.toString());
        assertEquals("write 25% 2.0/8.0 MiB 1.0 MiB/s eta 6s", lines.get(0));
    }

    private ProgressReporter reporter(ProgressReporter.Style style) {
        return new ProgressReporter(new PrintWriter(text), style, clock::get);
    }

    private static FetchProgress progress(long done, long total, Duration eta, SourceStats... sources) {
        return new FetchProgress(done, total, done / MIB, total / MIB, 95.3 * MIB, eta, Duration.ofSeconds(1),
                List.of(sources));
    }

    private static SourceStats stats(String url, SourceState state) {
        return new SourceStats(Source.parse(url), state, 0, 0, 0, 0, 0, null);
    }
}
