package io.statesync.groups.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.groups.log.Chain;
import io.statesync.groups.log.LogPosition;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catalog keeps each snapshot's machine metadata and still reads catalogs written without it. */
class SnapshotCatalogTest {
    @TempDir
    Path tmp;

    private static Cid cid(String s) {
        return Cid.compute(Codec.RAW, s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void metadataSurvivesAReopen() throws Exception {
        Path file = tmp.resolve("snapshots.json");
        SnapshotCatalog c = SnapshotCatalog.open(file);
        c.add(new SnapshotRecord(cid("a"), new LogPosition(1, 10), Chain.GENESIS,
                Map.of("height", "7", "block", "abc")));
        c.add(new SnapshotRecord(cid("b"), new LogPosition(1, 20), Chain.GENESIS));

        SnapshotCatalog reopened = SnapshotCatalog.open(file);
        assertEquals(Map.of("height", "7", "block", "abc"), reopened.all().get(0).metadata());
        assertEquals(Map.of(), reopened.all().get(1).metadata());
    }

    @Test
    void aCatalogWithoutMetadataStillOpens() throws Exception {
        Path file = tmp.resolve("snapshots.json");
        Files.writeString(file, "{\"snapshots\":[{\"manifest\":\"" + cid("a") + "\",\"term\":2,\"index\":30,"
                + "\"chain\":\"" + Chain.hex(Chain.GENESIS) + "\"}]}");
        SnapshotRecord r = SnapshotCatalog.open(file).latest().orElseThrow();
        assertEquals(new LogPosition(2, 30), r.position());
        assertEquals(Map.of(), r.metadata());
    }

    @Test
    void theMachinePartLeavesOutTheGroupsKeys() {
        assertEquals(Map.of("height", "7"), SnapshotRecord.machineMetadata(Map.of(SnapshotRecord.META_GROUP, "g",
                SnapshotRecord.META_INDEX, "1", SnapshotRecord.META_TERM, "1", SnapshotRecord.META_CHAIN, "00",
                "height", "7")));
    }
}
