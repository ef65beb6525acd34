package io.statesync.discovery.membership;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Framing on one connection: whole frames pass; garbage and stalls cost the sender its connection. */
class FrameDecoderTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final GossipMetrics metrics = new GossipMetrics();
    private final EmbeddedChannel channel;

    FrameDecoderTest() {
        metrics.register(registry, 1, () -> 0);
        channel = new EmbeddedChannel(new FrameDecoder(100, 1_000, metrics));
    }

    @Test
    void framesArriveWholeHoweverTheBytesAreCut() {
        ByteBuf two = Unpooled.buffer().writeInt(3).writeBytes(new byte[] {1, 2, 3}).writeInt(1).writeByte(9);

        channel.writeInbound(two.readRetainedSlice(5));
        assertNull(channel.readInbound(), "half a frame waits");
        channel.writeInbound(two);

        assertFrame(channel.readInbound(), 1, 2, 3);
        assertFrame(channel.readInbound(), 9);
        assertTrue(channel.isOpen());
        assertEquals(0, dropped("malformed") + dropped("oversize"));
    }

    @Test
    void aLengthThatIsNotPositiveClosesTheConnection() {
        channel.writeInbound(Unpooled.buffer().writeInt(-5).writeBytes(new byte[20]));

        assertFalse(channel.isOpen());
        assertNull(channel.readInbound());
        assertEquals(1, dropped("malformed"));
    }

    @Test
    void aFrameOverTheLimitClosesTheConnectionBeforeItIsBuffered() {
        channel.writeInbound(Unpooled.buffer().writeInt(101).writeBytes(new byte[10]));

        assertFalse(channel.isOpen());
        assertEquals(1, dropped("oversize"));
    }

    @Test
    void aFrameThatStallsClosesTheConnection() {
        channel.writeInbound(Unpooled.buffer().writeInt(50).writeBytes(new byte[10]));
        channel.advanceTimeBy(999, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertTrue(channel.isOpen(), "not yet");

        channel.advanceTimeBy(2, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();

        assertFalse(channel.isOpen());
        assertEquals(1, dropped("malformed"));
    }

    @Test
    void aFrameCutByTheCloseIsCounted() {
        channel.writeInbound(Unpooled.buffer().writeInt(50).writeBytes(new byte[10]));

        channel.close();

        assertEquals(1, dropped("malformed"));
    }

    private static void assertFrame(ByteBuf frame, int... bytes) {
        try {
            assertEquals(bytes.length, frame.readableBytes());
            for (int b : bytes) {
                assertEquals(b, frame.readByte());
            }
        } finally {
            frame.release();
        }
    }

    private long dropped(String reason) {
        return (long) registry.find("statesync.gossip.dropped").tag("reason", reason).functionCounter().count();
    }
}
