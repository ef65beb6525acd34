package io.statesync.core.units;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {
    @Test
    void shortFormsParse() {
        assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
        assertEquals(Duration.ofSeconds(2), Durations.parse("2s"));
        assertEquals(Duration.ofMinutes(10), Durations.parse("10m"));
        assertEquals(Duration.ofHours(1), Durations.parse("1h"));
        assertEquals(Duration.ofDays(2), Durations.parse("2d"));
        assertEquals(Duration.ofMinutes(90), Durations.parse("1h30m"));
        assertEquals(Duration.ofMillis(2500), Durations.parse("2s500ms"));
        assertEquals(Duration.ofSeconds(2), Durations.parse(" 2S "));
    }

    @Test
    void isoFormsParse() {
        assertEquals(Duration.ofSeconds(2), Durations.parse("PT2S"));
        assertEquals(Duration.ofMinutes(90), Durations.parse("pt1h30m"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "5", "2 s", "s", "10x", "-1s", "1.5s", "PT", "P1X", "2s-", "ms2"})
    void anythingElseIsRefusedWithTheAcceptedForms(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Durations.parse(text));
        assertTrue(e.getMessage().contains("500ms, 2s, 10m, 1h or PT2S"), e.getMessage());
    }

    @Test
    void formatIsShortAndReadsBack() {
        assertEquals("0s", Durations.format(Duration.ZERO));
        assertEquals("250ms", Durations.format(Duration.ofMillis(250)));
        assertEquals("2s", Durations.format(Duration.ofSeconds(2)));
        assertEquals("2.5s", Durations.format(Duration.ofMillis(2500)));
        assertEquals("1m5s", Durations.format(Duration.ofSeconds(65)));
        assertEquals("10m", Durations.format(Duration.ofMinutes(10)));
        assertEquals("1h", Durations.format(Duration.ofHours(1)));
        assertEquals("1h0m5s", Durations.format(Duration.ofSeconds(3605)));
        for (String s : new String[] {"1m5s", "10m", "1h", "1h0m5s", "250ms"}) {
            assertEquals(s, Durations.format(Durations.parse(s)));
        }
    }
}
