package io.statesync.core.snapshot;

import static io.statesync.core.snapshot.ManifestFixtures.file;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.statesync.core.cid.Cid;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ManifestTest {

    @ParameterizedTest(name = "{0} bytes in chunks of {1} -> {2} chunks")
    @CsvSource({
            "0, 4096, 0",
            "1, 4096, 1",
            "4095, 4096, 1",
            "4096, 4096, 1",
            "4097, 4096, 2",
            "8192, 4096, 2",
            "1048576, 1048576, 1",
            "1048577, 1048576, 2",
            "5, 1, 5",
    })
    void chunkCountRoundsUp(long size, int chunkSize, long chunks) {
        assertEquals(chunks, Manifest.chunksFor(size, chunkSize));
    }

    @Test
    void chunkCountOfTheLargestSizeDoesNotOverflow() {
        // A hostile manifest may claim any size; the arithmetic must not wrap to a negative count.
        assertEquals(Long.MAX_VALUE / 4096 + 1, Manifest.chunksFor(Long.MAX_VALUE, 4096));
        assertEquals(Long.MAX_VALUE / (1 << 20) + 1, Manifest.chunksFor(Long.MAX_VALUE, 1 << 20));
        assertEquals(Long.MAX_VALUE, Manifest.chunksFor(Long.MAX_VALUE, 1));
    }

    @Test
    void everyChunkIsFullExceptTheLast() {
        assertEquals(4096, Manifest.chunkLength(10_000, 4096, 0));
        assertEquals(4096, Manifest.chunkLength(10_000, 4096, 1));
        assertEquals(10_000 - 8192, Manifest.chunkLength(10_000, 4096, 2));
        assertEquals(4096, Manifest.chunkLength(8192, 4096, 1));
    }

    @Test
    void chunkLengthWorksPastTwoGibibytes() {
        long size = 5L << 30; // 5 GiB
        int last = (int) Manifest.chunksFor(size, 1 << 20) - 1;

        assertEquals(1 << 20, Manifest.chunkLength(size, 1 << 20, last));
        assertEquals(1, Manifest.chunkLength(size + 1, 1 << 20, last + 1));
    }

    @Test
    void totalsSumAllFilesAndCountRepeatedChunksEachTime() {
        FileEntry a = file("a", 10_000);
        FileEntry b = file("b", 0);
        FileEntry c = new FileEntry("c", 2 * 4096, 0644, List.of(a.chunks().get(0), a.chunks().get(0)));

        Manifest m = ManifestFixtures.manifest(a, b, c);

        assertEquals(10_000 + 8192, m.totalBytes());
        assertEquals(3 + 0 + 2, m.chunkCount());
    }

    @Test
    void metadataIsSortedAndTheManifestIsImmutable() {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("zeta", "1");
        metadata.put("alpha", "2");
        List<FileEntry> files = new ArrayList<>(List.of(file("a", 1)));

        Manifest m = new Manifest(Manifest.VERSION, 4096, metadata, files);
        metadata.put("late", "3");
        files.add(file("b", 1));

        assertEquals(List.of("alpha", "zeta"), List.copyOf(m.metadata().keySet()));
        assertEquals(1, m.files().size(), "the manifest keeps its own copy of the file list");
        assertThrows(UnsupportedOperationException.class, () -> m.metadata().put("x", "y"));
        assertThrows(UnsupportedOperationException.class, () -> m.files().add(file("c", 1)));
    }

    @Test
    void aFileEntryCopiesItsChunkList() {
        List<Cid> chunks = new ArrayList<>(List.of(ManifestFixtures.chunk("x")));
        FileEntry f = new FileEntry("x", 1, 0644, chunks);

        chunks.clear();

        assertEquals(1, f.chunks().size());
        assertThrows(NullPointerException.class, () -> new FileEntry(null, 0, 0644, List.of()));
    }
}
