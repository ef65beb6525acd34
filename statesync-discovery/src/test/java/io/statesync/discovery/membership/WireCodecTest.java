package io.statesync.discovery.membership;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.scalecube.cluster.Member;
import io.scalecube.cluster.fdetector.FailureDetectorImpl;
import io.scalecube.cluster.gossip.GossipProtocolImpl;
import io.scalecube.cluster.membership.MemberStatus;
import io.scalecube.cluster.membership.MembershipProtocolImpl;
import io.scalecube.cluster.metadata.MetadataStoreImpl;
import io.scalecube.cluster.transport.api.Message;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Our wire format for ScaleCube's messages: every message survives the trip; nothing else gets in. */
class WireCodecTest {

    private static final Member A = new Member("id-a", null, "127.0.0.1:7001", "statesync");
    private static final Member B = new Member("id-b", "alias-b", "10.0.0.2:7002", "statesync/sub");

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GossipMetrics metrics = new GossipMetrics();
    private final WireCodec codec = new WireCodec(64, metrics);

    WireCodecTest() {
        metrics.register(registry, 1, () -> 0);
    }

    @Test
    void everyProtocolMessageRoundTrips() throws Exception {
        for (int ack = -1; ack <= 1; ack++) {
            Object ping = ScaleCubeTypes.newPing(new ScaleCubeTypes.Ping(A, B, ack == 1 ? A : null, ack));
            Message back = roundTrip(message(FailureDetectorImpl.PING_ACK, ping, "cid-1"));
            assertEquals(new ScaleCubeTypes.Ping(A, B, ack == 1 ? A : null, ack), ScaleCubeTypes.readPing(back.data()));
            assertEquals("cid-1", back.correlationId());
            assertEquals("127.0.0.1:9", back.sender());
        }

        Object r1 = ScaleCubeTypes.newRecord(new ScaleCubeTypes.Record(A, MemberStatus.ALIVE, 3));
        Object r2 = ScaleCubeTypes.newRecord(new ScaleCubeTypes.Record(B, MemberStatus.LEAVING, Integer.MAX_VALUE));
        Message sync = roundTrip(message(MembershipProtocolImpl.SYNC, ScaleCubeTypes.newSync(List.of(r1, r2)), null));
        assertEquals(List.of(r1, r2), List.copyOf(ScaleCubeTypes.readSync(sync.data())));
        assertNull(sync.correlationId());

        Message inner = Message.withData(r2).qualifier(MembershipProtocolImpl.MEMBERSHIP_GOSSIP).build();
        Object gossip = ScaleCubeTypes.newGossip(new ScaleCubeTypes.Gossip("id-b", inner, 42L));
        Message request = roundTrip(message(GossipProtocolImpl.GOSSIP_REQ,
                ScaleCubeTypes.newGossipRequest(List.of(gossip), "id-b"), null));
        List<?> gossips = ScaleCubeTypes.readGossipRequestGossips(request.data());
        assertEquals(1, gossips.size());
        ScaleCubeTypes.Gossip g = ScaleCubeTypes.readGossip(gossips.get(0));
        assertEquals("id-b", g.gossiperId());
        assertEquals(42L, g.sequenceId());
        assertEquals(MembershipProtocolImpl.MEMBERSHIP_GOSSIP, g.message().qualifier());
        assertEquals(r2, g.message().data()); // Message has no equals; its record has
        assertEquals("id-b", ScaleCubeTypes.readGossipRequestFrom(request.data()));

        Message metadataRequest = roundTrip(message(MetadataStoreImpl.GET_METADATA_REQ,
                ScaleCubeTypes.newMetadataRequest(B), "cid-2"));
        assertEquals(B, ScaleCubeTypes.readMetadataRequest(metadataRequest.data()));

        byte[] bytes = {1, 2, 3, 0, -1};
        Message response = roundTrip(message(MetadataStoreImpl.GET_METADATA_RESP,
                ScaleCubeTypes.newMetadataResponse(A, ByteBuffer.wrap(bytes)), "cid-3"));
        assertEquals(A, ScaleCubeTypes.readMetadataResponseMember(response.data()));
        ByteBuffer metadata = ScaleCubeTypes.readMetadataResponseMetadata(response.data());
        byte[] got = new byte[metadata.remaining()];
        metadata.get(got);
        assertArrayEquals(bytes, got);
        assertEquals(0, dropped("malformed") + dropped("oversize"));
    }

    @Test
    void metadataOverTheLimitIsDroppedAsOversize() throws Exception {
        byte[] frame = encode(message(MetadataStoreImpl.GET_METADATA_RESP,
                ScaleCubeTypes.newMetadataResponse(A, ByteBuffer.wrap(new byte[65])), "cid"));

        assertEquals(WireCodec.DROPPED, decode(frame).qualifier());
        assertEquals(1, dropped("oversize"));
    }

    @Test
    void framesThatBreakTheRulesAreDroppedNotThrown() throws Exception {
        byte[] ping = encode(message(FailureDetectorImpl.PING,
                ScaleCubeTypes.newPing(new ScaleCubeTypes.Ping(A, B, null, -1)), "cid"));
        List<byte[]> bad = List.of(
                new byte[0],
                "GET / HTTP/1.1\r\n".getBytes(),
                Arrays.copyOf(ping, ping.length - 1), // truncated
                Arrays.copyOf(ping, ping.length + 1), // trailing byte
                with(ping, 2, 9), // unknown version
                with(ping, 3, 9), // a membership gossip outside a gossip request
                with(ping, 3, 99), // unknown kind
                with(ping, 4, 0)); // no correlation id and no sender

        for (byte[] frame : bad) {
            assertEquals(WireCodec.DROPPED, decode(frame).qualifier(), Arrays.toString(frame));
        }
        assertEquals(bad.size(), dropped("malformed"));
    }

    @Test
    void noMutationOfAValidFrameEverThrows() throws Exception {
        Object r = ScaleCubeTypes.newRecord(new ScaleCubeTypes.Record(B, MemberStatus.SUSPECT, 7));
        Message inner = Message.withData(r).qualifier(MembershipProtocolImpl.MEMBERSHIP_GOSSIP).build();
        byte[] valid = encode(message(GossipProtocolImpl.GOSSIP_REQ, ScaleCubeTypes.newGossipRequest(
                List.of(ScaleCubeTypes.newGossip(new ScaleCubeTypes.Gossip("g", inner, 1L))), "g"), null));
        SplittableRandom random = new SplittableRandom(7);

        for (int i = 0; i < 20_000; i++) {
            byte[] frame = random.nextBoolean() ? valid.clone() : Arrays.copyOf(valid, random.nextInt(valid.length));
            for (int flips = random.nextInt(1, 4); flips > 0 && frame.length > 0; flips--) {
                frame[random.nextInt(frame.length)] = (byte) random.nextInt(256);
            }
            Message m = decode(frame); // never throws
            assertTrue(m.qualifier().equals(WireCodec.DROPPED) || m.qualifier().equals(GossipProtocolImpl.GOSSIP_REQ));
        }
    }

    @Test
    void messagesThatAreNotTheProtocolsAreNotSent() {
        assertThrows(IOException.class, () -> encode(Message.withData("hello").qualifier("user/topic").build()));
        assertThrows(IOException.class, () -> encode(message(FailureDetectorImpl.PING, "not a ping", "cid")));
        assertThrows(IOException.class, () -> encode(Message.withData(
                ScaleCubeTypes.newPing(new ScaleCubeTypes.Ping(A, B, null, -1))).qualifier(FailureDetectorImpl.PING)
                .correlationId("cid").header("extra", "x").build()));
    }

    private static Message message(String qualifier, Object data, String cid) {
        Message.Builder b = Message.withData(data).qualifier(qualifier).sender("127.0.0.1:9");
        if (cid != null) {
            b.correlationId(cid);
        }
        return b.build();
    }

    private Message roundTrip(Message m) throws Exception {
        Message back = decode(encode(m));
        assertEquals(m.qualifier(), back.qualifier());
        return back;
    }

    private byte[] encode(Message m) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        codec.serialize(m, out);
        return out.toByteArray();
    }

    private Message decode(byte[] frame) throws IOException {
        return codec.deserialize(new ByteArrayInputStream(frame));
    }

    private static byte[] with(byte[] frame, int index, int value) {
        byte[] copy = frame.clone();
        copy[index] = (byte) value;
        return copy;
    }

    private long dropped(String reason) {
        return (long) registry.find("statesync.gossip.dropped").tag("reason", reason).functionCounter().count();
    }
}
