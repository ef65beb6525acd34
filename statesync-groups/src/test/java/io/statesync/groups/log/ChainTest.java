package io.statesync.groups.log;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The hash chain: the same inputs give the same value everywhere, and every input changes it. */
class ChainTest {
    private static final LogEntry BASE = new LogEntry(10, 3, LogEntry.Kind.COMMAND, "data".getBytes(UTF_8));

    @Test
    void isDeterministic() {
        byte[] a = Chain.next(Chain.GENESIS, BASE);
        byte[] b = Chain.next(Chain.GENESIS.clone(),
                new LogEntry(10, 3, LogEntry.Kind.COMMAND, "data".getBytes(UTF_8)));
        assertArrayEquals(a, b);
        assertEquals(Chain.SIZE, a.length);
        // The genesis value is 32 zero bytes, and computing does not change its input
        assertArrayEquals(new byte[Chain.SIZE], Chain.GENESIS);
    }

    @Test
    void everyInputChangesTheValue() {
        byte[] otherPrevious = Chain.next(Chain.GENESIS, LogEntry.noop(1, 1));
        List<byte[]> values = List.of(
                Chain.next(Chain.GENESIS, BASE),
                Chain.next(otherPrevious, BASE),
                Chain.next(Chain.GENESIS, new LogEntry(11, 3, LogEntry.Kind.COMMAND, "data".getBytes(UTF_8))),
                Chain.next(Chain.GENESIS, new LogEntry(10, 4, LogEntry.Kind.COMMAND, "data".getBytes(UTF_8))),
                Chain.next(Chain.GENESIS, new LogEntry(10, 3, LogEntry.Kind.COMMAND, "date".getBytes(UTF_8))),
                Chain.next(Chain.GENESIS, new LogEntry(10, 3, LogEntry.Kind.COMMAND, "data!".getBytes(UTF_8))),
                Chain.next(Chain.GENESIS, new LogEntry(10, 3, LogEntry.Kind.COMMAND, new byte[0])),
                // Same index, term and (empty) data: only the kind differs from the one above
                Chain.next(Chain.GENESIS, LogEntry.noop(10, 3)));
        Set<String> distinct = new HashSet<>();
        values.forEach(v -> distinct.add(Chain.hex(v)));
        assertEquals(values.size(), distinct.size(), "every variation gives its own value");
    }

    @Test
    void aChainOverManyEntriesDependsOnTheirOrder() {
        LogEntry one = new LogEntry(1, 1, LogEntry.Kind.COMMAND, "a".getBytes(UTF_8));
        LogEntry two = new LogEntry(2, 1, LogEntry.Kind.COMMAND, "b".getBytes(UTF_8));
        LogEntry twoSwapped = new LogEntry(2, 1, LogEntry.Kind.COMMAND, "a".getBytes(UTF_8));
        LogEntry oneSwapped = new LogEntry(1, 1, LogEntry.Kind.COMMAND, "b".getBytes(UTF_8));
        byte[] straight = Chain.next(Chain.next(Chain.GENESIS, one), two);
        byte[] swapped = Chain.next(Chain.next(Chain.GENESIS, oneSwapped), twoSwapped);
        assertFalse(Arrays.equals(straight, swapped));
    }

    @Test
    void hexRoundTripsAndParseRefusesOtherLengths() {
        byte[] v = Chain.next(Chain.GENESIS, BASE);
        String hex = Chain.hex(v);
        assertEquals(64, hex.length());
        assertArrayEquals(v, Chain.parse(hex));
        IllegalArgumentException shortValue = assertThrows(IllegalArgumentException.class,
                () -> Chain.parse(hex.substring(2)));
        assertEquals("a chain value has 32 bytes, not 31", shortValue.getMessage());
        IllegalArgumentException notHex = assertThrows(IllegalArgumentException.class,
                () -> Chain.parse("zz" + hex.substring(2)));
        assertTrue(notHex.getMessage() != null && !notHex.getMessage().isBlank());
    }
}
