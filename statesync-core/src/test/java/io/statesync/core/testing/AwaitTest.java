package io.statesync.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AwaitTest {
    @Test
    void returnsOnceTheConditionHolds() {
        AtomicInteger polls = new AtomicInteger();
        Duration took = Await.until("the third poll", Duration.ofSeconds(10), () -> polls.incrementAndGet() >= 3);

        assertEquals(3, polls.get());
        assertTrue(took.compareTo(Duration.ofSeconds(5)) < 0, "took " + took);
    }

    @Test
    void failsNamingWhatWasAwaitedAndTheTimeout() {
        AssertionError e = assertThrows(AssertionError.class,
                () -> Await.until("the impossible", Duration.ofMillis(50), () -> false));

        assertEquals("timed out after 50 ms waiting for: the impossible", e.getMessage());
    }

    @Test
    void aDescriptionFromASupplierIsMadeOnlyOnFailure() {
        AtomicInteger made = new AtomicInteger();
        Await.until(() -> "made " + made.incrementAndGet(), Duration.ofSeconds(1), () -> true);
        assertEquals(0, made.get());

        AssertionError e = assertThrows(AssertionError.class,
                () -> Await.until(() -> "state " + made.incrementAndGet(), Duration.ofSeconds(1), () -> false));
        assertEquals("timed out after 1 s waiting for: state 1", e.getMessage());
    }

    @Test
    void anInterruptedWaitFailsAndKeepsTheInterrupt() {
        Thread.currentThread().interrupt();
        try {
            AssertionError e = assertThrows(AssertionError.class,
                    () -> Await.until("the interrupted", Duration.ofSeconds(10), () -> false));

            assertEquals("interrupted waiting for: the interrupted", e.getMessage());
            assertTrue(Thread.currentThread().isInterrupted());
        } finally {
            Thread.interrupted();
        }
    }
}
