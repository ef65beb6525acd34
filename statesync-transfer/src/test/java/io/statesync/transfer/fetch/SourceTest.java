package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SourceTest {
    @Test
    void aBaseUrlIsNormalizedWithoutTrailingSlashes() {
        assertEquals("http://127.0.0.1:8080", Source.parse("http://127.0.0.1:8080/").toString());
        assertEquals("https://cdn.example/store", Source.parse("https://cdn.example/store//").toString());
        assertEquals("http://h/a/b", Source.parse(" http://h/a/b ").toString());
        assertEquals(Source.parse("http://h:1/x/"), Source.parse("http://h:1/x"));
    }

    @Test
    void thePortDefaultsFromTheScheme() {
        assertEquals(80, Source.parse("http://h").port());
        assertEquals(443, Source.parse("https://h/s").port());
        assertEquals(9000, Source.parse("http://h:9000").port());
    }

    @Test
    void urlsThatCannotBeASourceAreRefusedWithAReason() {
        for (String bad : new String[] {"ftp://h/x", "h:8080", "/just/a/path", "http://h/x?y=1", "http://h/x#f", "http://", "not a url"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Source.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad.trim().isEmpty() ? "" : bad.split(" ")[0]) || e.getMessage().startsWith("not a URL"),
                    e.getMessage());
        }
    }
}
