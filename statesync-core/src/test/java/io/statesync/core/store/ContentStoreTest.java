package io.statesync.core.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContentStoreTest {
    private static final byte[] HELLO = "hello world".getBytes(StandardCharsets.US_ASCII);
    private static final Cid HELLO_CID = Cid.parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");

    @TempDir
    Path root;

    @Test
    void aNewStoreIsEmptyWithItsTwoDirectories() throws IOException {
        ContentStore store = ContentStore.open(root.resolve("fresh"));

        assertTrue(Files.isDirectory(root.resolve("fresh/ipfs")));
        assertTrue(Files.isDirectory(root.resolve("fresh/tmp")));
        assertEquals(0, store.blobCount());
        assertEquals(0, store.totalBytes());
        assertEquals(List.of(), store.list());
    }

    @Test
    void putStoresBytesUnderIpfsSlashCidSoAStaticServerCanServeThem() throws IOException {
        ContentStore store = ContentStore.open(root);

        Cid cid = store.put(Codec.RAW, HELLO);

        assertEquals(HELLO_CID, cid);
        Path blob = root.resolve("ipfs").resolve(HELLO_CID.toString());
        assertEquals(blob, store.pathOf(cid));
        assertArrayEquals(HELLO, Files.readAllBytes(blob));
        assertTrue(store.has(cid));
        assertEquals(HELLO.length, store.size(cid));
        assertEquals(List.of(cid), store.list());
        assertEquals(1, store.blobCount());
        assertEquals(HELLO.length, store.totalBytes());
        assertTempDirEmpty();
    }

    @Test
    void adoptSharesTheOtherStoresBlobWithoutACopyAndOutlivesItsDeletionThere() throws IOException {
        // Given a blob in one store
        ContentStore from = ContentStore.open(root.resolve("from"));
        ContentStore into = ContentStore.open(root.resolve("into"));
        Cid cid = from.put(Codec.RAW, HELLO);

        // When another store adopts it, and a blob the first does not hold
        assertTrue(into.adopt(from, cid));
        assertFalse(into.adopt(from, Cid.compute(Codec.RAW, "absent".getBytes(StandardCharsets.US_ASCII))));

        // Then it holds the same file (a hard link), counted, and keeps it when the first deletes it
        assertTrue(Files.isSameFile(from.pathOf(cid), into.pathOf(cid)));
        assertEquals(1, into.blobCount());
        assertEquals(HELLO.length, into.totalBytes());
        assertTrue(into.adopt(from, cid), "adopting again is a no-op");
        assertEquals(1, into.blobCount());
        from.delete(cid);
        assertArrayEquals(HELLO, into.readAll(cid));
        assertTrue(into.verify(cid));
    }

    @Test
    void theEmptyBlobIsAValidBlob() throws IOException {
        ContentStore store = ContentStore.open(root);

        Cid cid = store.put(Codec.RAW, new byte[0]);

        assertEquals("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", cid.toString());
        assertEquals(0, store.size(cid));
        assertArrayEquals(new byte[0], store.readAll(cid));
        assertEquals(1, store.blobCount());
    }

    @Test
    void aStreamLargerThanTheCopyBufferIsStoredWhole() throws IOException {
        ContentStore store = ContentStore.open(root);
        byte[] data = randomBytes(1, 300_000);

        Cid cid = store.put(Codec.RAW, new ByteArrayInputStream(data));

        assertEquals(Cid.compute(Codec.RAW, data), cid);
        assertArrayEquals(data, store.readAll(cid));
        try (InputStream in = store.open(cid)) {
            assertArrayEquals(data, in.readAllBytes());
        }
    }

    @Test
    void aDagJsonBlobKeepsItsCodec() throws IOException {
        ContentStore store = ContentStore.open(root);
        byte[] json = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);

        Cid cid = store.put(Codec.DAG_JSON, json);

        assertEquals(Codec.DAG_JSON, cid.codec());
        assertEquals(Cid.compute(Codec.DAG_JSON, json), cid);
        assertEquals(List.of(cid), store.list());
    }

    @Test
    void positionalReadsReturnTheRequestedSliceAndMinusOneAtTheEnd() throws IOException {
        ContentStore store = ContentStore.open(root);
        Cid cid = store.put(Codec.RAW, HELLO);

        ByteBuffer dst = ByteBuffer.allocate(5);
        int n = store.read(cid, 6, dst);

        assertEquals(5, n);
        assertEquals("world", new String(dst.array(), StandardCharsets.US_ASCII));
        ByteBuffer tail = ByteBuffer.allocate(100);
        assertEquals(2, store.read(cid, 9, tail));
        assertEquals(-1, store.read(cid, HELLO.length, ByteBuffer.allocate(1)));
    }

    @Test
    void putWithTheExpectedCidStoresMatchingBytes() throws IOException {
        ContentStore store = ContentStore.open(root);

        store.put(HELLO_CID, new ByteArrayInputStream(HELLO));

        assertTrue(store.has(HELLO_CID));
        assertArrayEquals(HELLO, store.readAll(HELLO_CID));
    }

    @Test
    void putWithAMismatchingCidThrowsAndLeavesNoTrace() throws IOException {
        ContentStore store = ContentStore.open(root);
        byte[] corrupt = "hello worle".getBytes(StandardCharsets.US_ASCII);

        var e = assertThrows(DigestMismatchException.class,
                () -> store.put(HELLO_CID, new ByteArrayInputStream(corrupt)));

        assertEquals(HELLO_CID, e.expected());
        assertEquals(Cid.compute(Codec.RAW, corrupt), e.actual());
        assertTrue(e.getMessage().contains(HELLO_CID.toString()), e.getMessage());
        assertFalse(store.has(HELLO_CID));
        assertFalse(store.has(e.actual()), "the wrong bytes must not be stored under their own name either");
        assertEquals(List.of(), listing(root.resolve("ipfs")));
        assertTempDirEmpty();
        assertEquals(0, store.blobCount());
        assertEquals(0, store.totalBytes());
    }

    @Test
    void aWriterClosedWithoutCommitLikeAnInterruptedDownloadLeavesNothing() throws IOException {
        ContentStore store = ContentStore.open(root);

        try (BlobWriter w = store.writer(HELLO_CID)) {
            w.write(HELLO, 0, 5);
            assertEquals(5, w.written());
            assertEquals(HELLO_CID, w.expected());
            assertEquals(1, listing(root.resolve("tmp")).size(), "bytes go to a temp file while writing");
        }

        assertFalse(store.has(HELLO_CID));
        assertEquals(List.of(), listing(root.resolve("ipfs")));
        assertTempDirEmpty();
    }

    @Test
    void aWriterAbandonedByAnExceptionAfterPartialWritesLeavesNothing() throws IOException {
        ContentStore store = ContentStore.open(root);

        var e = assertThrows(IOException.class, () -> {
            try (BlobWriter w = store.writer(Codec.RAW)) {
                w.write(ByteBuffer.wrap(randomBytes(2, 10_000)));
                w.write(ByteBuffer.wrap(randomBytes(3, 10_000)));
                throw new IOException("connection reset by peer");
            }
        });

        assertEquals("connection reset by peer", e.getMessage());
        assertEquals(List.of(), listing(root.resolve("ipfs")));
        assertTempDirEmpty();
        assertEquals(0, store.blobCount());
    }

    @Test
    void aWriterRefusesUseAfterCommitOrClose() throws IOException {
        ContentStore store = ContentStore.open(root);
        BlobWriter committed = store.writer(Codec.RAW);
        committed.write(HELLO, 0, HELLO.length);
        committed.commit();
        BlobWriter closed = store.writer(Codec.RAW);
        closed.close();

        assertThrows(IllegalStateException.class, () -> committed.write(HELLO, 0, 1));
        assertThrows(IllegalStateException.class, committed::commit);
        assertThrows(IllegalStateException.class, () -> closed.write(HELLO, 0, 1));
        assertThrows(IllegalStateException.class, closed::commit);
        committed.close(); // idempotent, and must not delete the committed blob
        closed.close();
        assertTrue(store.has(HELLO_CID));
    }

    @Test
    void aWriterFedInPiecesProducesTheCidOfTheWhole() throws IOException {
        ContentStore store = ContentStore.open(root);
        byte[] data = randomBytes(4, 100_000);

        Cid cid;
        try (BlobWriter w = store.writer(Cid.compute(Codec.RAW, data))) {
            for (int off = 0; off < data.length; off += 7_777) {
                w.write(data, off, Math.min(7_777, data.length - off));
            }
            cid = w.commit();
        }

        assertEquals(Cid.compute(Codec.RAW, data), cid);
        assertArrayEquals(data, store.readAll(cid));
    }

    @Test
    void writingADirectBufferHashesWhatIsWritten() throws IOException {
        ContentStore store = ContentStore.open(root);
        ByteBuffer direct = ByteBuffer.allocateDirect(HELLO.length).put(HELLO).flip();

        Cid cid;
        try (BlobWriter w = store.writer(HELLO_CID)) {
            w.write(direct);
            cid = w.commit();
        }

        assertEquals(HELLO_CID, cid);
        assertFalse(direct.hasRemaining(), "the buffer is consumed like a channel write would");
    }

    @Test
    void theSameContentTwiceIsOneBlobCountedOnce() throws IOException {
        ContentStore store = ContentStore.open(root);

        Cid first = store.put(Codec.RAW, HELLO);
        Cid second = store.put(Codec.RAW, new ByteArrayInputStream(HELLO));
        store.put(HELLO_CID, new ByteArrayInputStream(HELLO));

        assertEquals(first, second);
        assertEquals(1, store.blobCount());
        assertEquals(HELLO.length, store.totalBytes());
        assertEquals(1, listing(root.resolve("ipfs")).size());
        assertTempDirEmpty();
    }

    @Test
    void eightConcurrentWritersOfOneCidAllSucceedAndLeaveOneBlob() throws Exception {
        ContentStore store = ContentStore.open(root);
        byte[] data = randomBytes(5, 200_000);
        Cid cid = Cid.compute(Codec.RAW, data);

        putConcurrently(store, cid, data, 8);

        assertArrayEquals(data, store.readAll(cid));
        assertEquals(List.of(cid.toString()), listing(root.resolve("ipfs")));
        assertTempDirEmpty();
        assertEquals(1, store.blobCount(), "a racing duplicate must not be counted twice");
        assertEquals(data.length, store.totalBytes());
    }

    @Test
    void racingDuplicatesNeverInflateTheTotals() throws Exception {
        // The race between "is it there?" and "put it there" is narrow; many rounds of small
        // blobs on platform threads make a double count show up if the install allows one.
        ContentStore store = ContentStore.open(root);
        int rounds = 40;
        long total = 0;
        for (int r = 0; r < rounds; r++) {
            byte[] data = randomBytes(1_000 + r, 1_000);
            putConcurrently(store, Cid.compute(Codec.RAW, data), data, 8);
            total += data.length;
        }

        assertEquals(rounds, store.blobCount());
        assertEquals(total, store.totalBytes());
        assertEquals(rounds, listing(root.resolve("ipfs")).size());
        assertTempDirEmpty();
    }

    @Test
    void concurrentWritersOfDifferentBlobsAreAllCounted() throws Exception {
        ContentStore store = ContentStore.open(root);
        int blobs = 32;
        List<byte[]> contents = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < blobs; i++) {
            contents.add(randomBytes(100 + i, 1_000 + i));
            total += 1_000 + i;
        }

        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Cid>> results = new ArrayList<>();
            for (byte[] c : contents) {
                results.add(pool.submit(() -> store.put(Codec.RAW, c)));
            }
            for (Future<Cid> f : results) {
                f.get();
            }
        }

        assertEquals(blobs, store.blobCount());
        assertEquals(total, store.totalBytes());
        assertEquals(blobs, store.list().size());
    }

    @Test
    void deleteRemovesTheBlobAndUpdatesTheTotals() throws IOException {
        ContentStore store = ContentStore.open(root);
        Cid hello = store.put(Codec.RAW, HELLO);
        Cid other = store.put(Codec.RAW, randomBytes(6, 1_000));

        assertTrue(store.delete(hello));

        assertFalse(store.has(hello));
        assertFalse(store.delete(hello), "a second delete finds nothing");
        assertEquals(List.of(other), store.list());
        assertEquals(1, store.blobCount());
        assertEquals(1_000, store.totalBytes());
    }

    @Test
    void missingBlobsRaiseBlobNotFoundNamingTheCid() throws IOException {
        ContentStore store = ContentStore.open(root);

        assertFalse(store.has(HELLO_CID));
        for (var call : List.<ThrowingCall>of(
                () -> store.size(HELLO_CID),
                () -> store.open(HELLO_CID).close(),
                () -> store.readAll(HELLO_CID),
                () -> store.read(HELLO_CID, 0, ByteBuffer.allocate(1)))) {
            var e = assertThrows(BlobNotFoundException.class, call::run);
            assertEquals(HELLO_CID, e.cid());
            assertEquals("no blob " + HELLO_CID + " in the store", e.getMessage());
        }
    }

    @Test
    void listIgnoresFilesThatAreNotCids() throws IOException {
        ContentStore store = ContentStore.open(root);
        Cid cid = store.put(Codec.RAW, HELLO);
        // A web server sharing the directory may drop its own files there.
        Files.writeString(root.resolve("ipfs/index.html"), "<html></html>");
        Files.writeString(root.resolve("ipfs/QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB"), "v0");

        assertEquals(List.of(cid), store.list());
    }

    @Test
    void reopeningRecountsBlobsAndBytesFromDisk() throws IOException {
        ContentStore first = ContentStore.open(root);
        Set<Cid> cids = new HashSet<>();
        long total = 0;
        for (int i = 0; i < 10; i++) {
            byte[] data = randomBytes(i, 100 * i);
            cids.add(first.put(Codec.RAW, data));
            total += data.length;
        }

        ContentStore reopened = ContentStore.open(root);

        assertEquals(10, reopened.blobCount());
        assertEquals(total, reopened.totalBytes());
        assertEquals(cids, new HashSet<>(reopened.list()));
    }

    @Test
    void reopeningCountsOnlyBlobsNotForeignFiles() throws IOException {
        ContentStore first = ContentStore.open(root);
        first.put(Codec.RAW, HELLO);
        Files.writeString(root.resolve("ipfs/index.html"), "<html></html>");

        ContentStore reopened = ContentStore.open(root);

        assertEquals(reopened.list().size(), reopened.blobCount(), "blobCount must agree with list()");
        assertEquals(HELLO.length, reopened.totalBytes());
    }

    @Test
    void openingSweepsTempFilesOfDeadWritersAtOnceButKeepsOnesALiveWriterHolds() throws IOException {
        ContentStore store = ContentStore.open(root);
        // Left by a writer killed a moment ago: no age to wait out.
        Path dead = Files.write(root.resolve("tmp/dead-writer.part"), randomBytes(7, 100));
        Path old = Files.write(root.resolve("tmp/old-dead-writer.part"), randomBytes(8, 100));
        Files.setLastModifiedTime(old, FileTime.from(Instant.now().minus(Duration.ofHours(1))));

        try (BlobWriter live = store.writer(HELLO_CID)) {
            live.write(HELLO, 0, 5);
            Path liveTemp = onlyTempBut(Set.of("dead-writer.part", "old-dead-writer.part"));

            ContentStore.open(root);

            assertFalse(Files.exists(dead), "a dead writer's temp file is removed at the next open");
            assertFalse(Files.exists(old));
            assertTrue(Files.exists(liveTemp), "a live writer's temp file stays");
            live.write(HELLO, 5, HELLO.length - 5);
            assertEquals(HELLO_CID, live.commit(), "and its write completes");
        }
        assertTrue(store.has(HELLO_CID));
        assertTempDirEmpty();
    }

    @Test
    void verifyKeepsAnIntactBlobAndDeletesOneCorruptedOnDisk() throws IOException {
        ContentStore store = ContentStore.open(root);
        Cid intact = store.put(Codec.RAW, HELLO);
        byte[] data = randomBytes(10, 200_000);
        Cid damaged = store.put(Codec.RAW, data);
        data[123_456] ^= 0x01;
        Files.write(store.pathOf(damaged), data);
        Cid truncated = store.put(Codec.RAW, randomBytes(11, 1_000));
        Files.write(store.pathOf(truncated), randomBytes(11, 999));

        assertTrue(store.verify(intact));
        assertFalse(store.verify(damaged), "one flipped bit");
        assertFalse(store.verify(truncated), "one byte short");
        assertFalse(store.verify(Cid.compute(Codec.RAW, "never stored".getBytes(StandardCharsets.US_ASCII))), "absent");

        assertTrue(store.has(intact));
        assertFalse(store.has(damaged), "a corrupt blob is deleted, so a fetch gets it again");
        assertFalse(store.has(truncated));
        assertEquals(List.of(intact), store.list());
        assertEquals(1, store.blobCount());
        assertEquals(HELLO.length, ContentStore.open(root).totalBytes());
    }

    @Test
    void tempFilesNeverCountAsBlobs() throws IOException {
        ContentStore.open(root);
        Files.write(root.resolve("tmp/live-writer.part"), randomBytes(9, 100));

        ContentStore store = ContentStore.open(root);

        assertEquals(0, store.blobCount());
        assertEquals(0, store.totalBytes());
    }

    /** Has {@code writers} threads, released together, each store the same bytes under {@code cid}. */
    private static void putConcurrently(ContentStore store, Cid cid, byte[] data, int writers) throws Exception {
        CyclicBarrier start = new CyclicBarrier(writers);
        List<Future<?>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(writers, Thread.ofPlatform().name("writer-", 0).factory())) {
            for (int i = 0; i < writers; i++) {
                results.add(pool.submit(() -> {
                    start.await();
                    store.put(cid, new ByteArrayInputStream(data));
                    return null;
                }));
            }
        }
        for (Future<?> f : results) {
            f.get(); // rethrows a writer's failure
        }
    }

    @FunctionalInterface
    private interface ThrowingCall {
        void run() throws IOException;
    }

    /** The one temp file in tmp/ whose name is not in {@code others}. */
    private Path onlyTempBut(Set<String> others) throws IOException {
        List<String> names = listing(root.resolve("tmp")).stream().filter(n -> !others.contains(n)).toList();
        assertEquals(1, names.size(), names::toString);
        return root.resolve("tmp").resolve(names.get(0));
    }

    private void assertTempDirEmpty() throws IOException {
        assertEquals(List.of(), listing(root.resolve("tmp")), "no temp file may outlive its writer");
    }

    private static List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static byte[] randomBytes(long seed, int n) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }
}
