package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.store.ContentStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShareCommandTest {
    @TempDir
    Path tmp;

    @Test
    void sharingADirectoryPrintsTheRootCidAsTheLastLine() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), SnapshotImporter.DEFAULT_CHUNK_SIZE, 1);
        Path store = tmp.resolve("store");

        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store", store.toString(), in.toString());

        assertEquals(0, r.exitCode(), r.err());
        Cid root = Cid.parse(r.lastOutLine());
        assertEquals(Codec.DAG_JSON, root.codec());
        assertTrue(r.err().contains("shared 5 files"), r.err());
        // The same tree imported by the library directly names the same snapshot.
        Cid direct = SnapshotImporter.importPaths(ContentStore.open(tmp.resolve("direct")), List.of(in),
                Chunking.DEFAULT, Map.of()).root();
        assertEquals(direct, root);
        Manifest m = SnapshotImporter.loadManifest(ContentStore.open(store), root, ManifestLimits.DEFAULT);
        assertEquals(List.of("HEIGHT", "blocks/000.blk", "db/accounts.db", "db/index/0001.idx", "empty"),
                m.files().stream().map(FileEntry::path).toList());
    }

    @Test
    void metadataAndChunkSizeGoIntoTheManifest() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 64 * 1024, 2);
        Path store = tmp.resolve("store");

        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store=" + store, "--chunking=fixed", "--chunk-size=64KiB",
                "--meta", "height=42", "--meta", "thread=7", in.toString());

        assertEquals(0, r.exitCode(), r.err());
        Manifest m = SnapshotImporter.loadManifest(ContentStore.open(store), Cid.parse(r.lastOutLine()),
                ManifestLimits.DEFAULT);
        assertEquals(64 * 1024, m.chunkSize());
        assertEquals(Map.of("height", "42", "thread", "7"), m.metadata());
        assertEquals(8, m.chunkCount());
    }

    @Test
    void contentDefinedChunkingIsTheDefaultAndItsAverageCanBeSet() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 64 * 1024, 3);
        Path store = tmp.resolve("store");

        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store=" + store, "--chunk-size=16KiB", in.toString());

        assertEquals(0, r.exitCode(), r.err());
        Manifest m = SnapshotImporter.loadManifest(ContentStore.open(store), Cid.parse(r.lastOutLine()),
                ManifestLimits.DEFAULT);
        assertEquals(Chunking.ContentDefined.ofAverage(16 * 1024), m.chunking());
        assertEquals(Manifest.VERSION_CDC, m.version());
        Cli.Result bad = Cli.run(Cli.env(tmp), "share", "--store=" + store, "--chunk-size=3000", in.toString());
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("a power of two from 1KiB to 256KiB"), bad.err());
    }

    @Test
    void sharingTheSameTreeTwiceGivesTheSameCid() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 4096, 3);

        Cli.Result first = Cli.run(Cli.env(tmp), "share", "--store=" + tmp.resolve("a"), in.toString());
        Cli.Result second = Cli.run(Cli.env(tmp), "share", "--store=" + tmp.resolve("b"), in.toString());

        assertEquals(0, first.exitCode());
        assertEquals(first.lastOutLine(), second.lastOutLine());
    }

    @Test
    void severalPathsAppearUnderTheirNames() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 4096, 4);

        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store=" + tmp.resolve("s"),
                in.resolve("HEIGHT").toString(), in.resolve("db").toString());

        assertEquals(0, r.exitCode(), r.err());
        Manifest m = SnapshotImporter.loadManifest(ContentStore.open(tmp.resolve("s")), Cid.parse(r.lastOutLine()),
                ManifestLimits.DEFAULT);
        assertEquals(List.of("HEIGHT", "db/accounts.db", "db/index/0001.idx"),
                m.files().stream().map(FileEntry::path).toList());
    }

    @Test
    void aMissingPathIsAUsageError() {
        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store=" + tmp.resolve("s"), tmp.resolve("nope").toString());

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("no such file or directory"), r.err());
        assertFalse(Files.exists(tmp.resolve("s")), "nothing is created for a bad command line");
    }

    @Test
    void aStoreInsideTheSharedDirectoryIsRefused() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 4096, 5);

        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store=" + in.resolve(".store"), in.toString());

        r.assertOneLineFailure(Failures.USAGE);
        assertTrue(r.lastErrLine().contains("must not be inside"), r.err());
    }

    @Test
    void anUnwritableStoreIsAOneLineFailure() throws Exception {
        Path in = Cli.tree(tmp.resolve("in"), 4096, 6);
        Path blocker = Files.writeString(tmp.resolve("file"), "in the way");

        Cli.Result r = Cli.run(Cli.env(tmp), "share", "--store=" + blocker.resolve("store"), in.toString());

        r.assertOneLineFailure(Failures.FAILED);
        assertEquals("", r.out(), "no CID when nothing was shared");
    }
}
