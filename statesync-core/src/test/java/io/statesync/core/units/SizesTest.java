package io.statesync.core.units;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {
    @Test
    void binaryUnitsParse() {
        assertEquals(4096, Sizes.parse("4096"));
        assertEquals(4096, Sizes.parse("4096B"));
        assertEquals(256 * 1024, Sizes.parse("256KiB"));
        assertEquals(256 * 1024, Sizes.parse("256k"));
        assertEquals(8L << 20, Sizes.parse("8MiB"));
        assertEquals(8L << 20, Sizes.parse("8 mib"));
        assertEquals(1L << 30, Sizes.parse("1GiB"));
        assertEquals(2L << 40, Sizes.parse("2T"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "MiB", "1MB", "1.5GiB", "-1", "lots", "1 PiB", "99999999999999999TiB"})
    void anythingElseIsRefused(String text) {
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(text));
    }

    @Test
    void mebibytesHaveOneDecimal() {
        assertEquals("0.0 MiB", Sizes.mib(0));
        assertEquals("1.5 MiB", Sizes.mib(3 << 19));
        assertEquals("256.0 MiB", Sizes.mib(256L << 20));
    }

    @Test
    void countsAgreeWithTheirNouns() {
        assertEquals("1 chunk", Sizes.count(1, "chunk"));
        assertEquals("0 files", Sizes.count(0, "file"));
        assertEquals("3 files", Sizes.count(3, "file"));
    }
}
