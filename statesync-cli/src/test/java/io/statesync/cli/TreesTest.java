package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TreesTest {
    @TempDir
    Path tmp;

    @Test
    void identicalTreesHaveNoDifferences() throws Exception {
        Path a = Cli.tree(tmp.resolve("a"), 4096, 9);
        Path b = Cli.tree(tmp.resolve("b"), 4096, 9);

        assertEquals(List.of(), Trees.differences(a, b));
    }

    @Test
    void everyKindOfDifferenceIsNamed() throws Exception {
        Path a = Cli.tree(tmp.resolve("a"), 4096, 9);
        Path b = Cli.tree(tmp.resolve("b"), 4096, 9);
        Files.delete(b.resolve("HEIGHT"));
        Files.write(b.resolve("empty"), new byte[] {1});
        byte[] flipped = Files.readAllBytes(b.resolve("blocks/000.blk"));
        flipped[4000] ^= 1;
        Files.write(b.resolve("blocks/000.blk"), flipped);
        Files.writeString(b.resolve("db/extra"), "x");

        assertEquals(List.of("HEIGHT is missing", "blocks/000.blk has different content", "empty has 1 bytes, expected 0",
                "db/extra is not in the original"), Trees.differences(a, b));
    }
}
