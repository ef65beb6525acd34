package io.statesync.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.groups.log.LogPosition;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.MetadataProto;
import org.apache.ratis.thirdparty.com.google.protobuf.CodedOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ratis's open log segment left below the snapshot position a member restarts from (a stop right
 * after a catch-up) is removed before Ratis opens its log; one that reaches the position stays.
 */
class OpenSegmentTest {
    @TempDir
    Path dir;

    @Test
    void anOpenSegmentEndingAtTheStartStaysAndOneEndingBelowItIsRemoved() throws Exception {
        // Given Ratis's open segment in Ratis's file format, entries 10..12 (Ratis numbering)
        Path segment = segment("log_inprogress_10", 10, 3);
        assertEquals(12, RatisMachine.lastIndexIn(segment, 10));

        // When consensus starts at our index 13 (Ratis 12), where the segment ends
        RatisMachine.dropStaleOpenSegment(dir, new LogPosition(4, 13));
        // Then it stays: the next entry follows its last
        assertTrue(Files.exists(segment));

        // When consensus starts past it (a catch-up moved the position to our index 40)
        RatisMachine.dropStaleOpenSegment(dir, new LogPosition(4, 40));
        // Then it is removed: its entries are covered, and entry 40 would not follow them
        assertFalse(Files.exists(segment));
    }

    @Test
    void anEmptyOpenSegmentBelowTheStartIsRemoved() throws Exception {
        // Given an open segment Ratis created at 13 and never wrote to (the soak's case)
        Path empty = segment("log_inprogress_13", 13, 0);
        assertEquals(12, RatisMachine.lastIndexIn(empty, 13));
        // When consensus starts right before it, it stays (appends go there)
        RatisMachine.dropStaleOpenSegment(dir, new LogPosition(4, 13));
        assertTrue(Files.exists(empty));
        // When consensus starts past it, it is removed
        RatisMachine.dropStaleOpenSegment(dir, new LogPosition(4, 3685));
        assertFalse(Files.exists(empty));
    }

    @Test
    void aClosedSegmentIsLeftToRatis() throws Exception {
        Path closed = segment("log_10-12", 10, 3);
        RatisMachine.dropStaleOpenSegment(dir, new LogPosition(4, 40));
        assertTrue(Files.exists(closed), "Ratis purges closed segments below its snapshot itself");
    }

    /** Writes a segment as Ratis does: header, entries (varint length, entry, checksum), preallocated zeros. */
    private Path segment(String name, long first, int entries) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write("RaftLog1".getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < entries; i++) {
            LogEntryProto e = LogEntryProto.newBuilder().setTerm(4).setIndex(first + i)
                    .setMetadataEntry(MetadataProto.newBuilder().setCommitIndex(first + i)).build();
            byte[] buf = new byte[CodedOutputStream.computeUInt32SizeNoTag(e.getSerializedSize()) + e.getSerializedSize()];
            CodedOutputStream c = CodedOutputStream.newInstance(buf);
            c.writeUInt32NoTag(e.getSerializedSize());
            e.writeTo(c);
            out.write(buf);
            out.write(new byte[] {1, 2, 3, 4}); // checksum (not checked here)
        }
        out.write(new byte[4096]);
        return Files.write(dir.resolve(name), out.toByteArray());
    }
}
