package io.statesync.discovery.membership;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import io.statesync.discovery.membership.GossipMetrics.DropReason;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cuts a gossip connection's bytes into frames (a 4-byte length, then that many bytes: ScaleCube's
 * framing). Anything else costs the sender its connection, never us more than one frame of memory
 * or a stalled slot: a length that is not positive (random bytes, mostly) or above the limit (an
 * HTTP request reads as a gigabyte) closes the connection at once, and a frame left incomplete for
 * {@link #stallMillis} closes it too. Each of these is counted.
 */
final class FrameDecoder extends ByteToMessageDecoder {

    static final int LENGTH_BYTES = 4;

    private static final Logger log = LoggerFactory.getLogger(FrameDecoder.class);

    private final int maxFrameBytes;
    private final long stallMillis;
    private final GossipMetrics metrics;
    /** Closes the connection if no frame completes in time; touched only on the channel's event loop. */
    private ScheduledFuture<?> stallTimer;
    /** Set once the connection is condemned, so its remaining bytes are not counted twice. */
    private boolean refused;

    FrameDecoder(int maxFrameBytes, long stallMillis, GossipMetrics metrics) {
        this.maxFrameBytes = maxFrameBytes;
        this.stallMillis = stallMillis;
        this.metrics = metrics;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (refused) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (in.readableBytes() >= LENGTH_BYTES) {
            int length = in.getInt(in.readerIndex());
            if (length <= 0) {
                refuse(ctx, in, DropReason.MALFORMED, "frame length " + length);
                return;
            }
            if (length > maxFrameBytes) {
                refuse(ctx, in, DropReason.OVERSIZE, "frame of " + length + " bytes exceeds " + maxFrameBytes);
                return;
            }
            if (in.readableBytes() >= LENGTH_BYTES + length) {
                in.skipBytes(LENGTH_BYTES);
                out.add(in.readRetainedSlice(length));
                cancelStallTimer();
            }
        }
        if (in.isReadable() && stallTimer == null) {
            stallTimer = ctx.executor().schedule(() -> onStall(ctx), stallMillis, TimeUnit.MILLISECONDS);
        }
    }

    /** The peer closed with half a frame sent: that frame is lost, and counted. */
    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        super.decodeLast(ctx, in, out);
        if (in.isReadable() && !refused) {
            refused = true;
            metrics.dropped(DropReason.MALFORMED);
            log.debug("gossip connection {} closed inside a frame ({} bytes pending)", ctx.channel().remoteAddress(),
                    in.readableBytes());
            in.skipBytes(in.readableBytes());
        }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        cancelStallTimer();
    }

    private void onStall(ChannelHandlerContext ctx) {
        stallTimer = null;
        if (!refused && actualReadableBytes() > 0) {
            refused = true;
            metrics.dropped(DropReason.MALFORMED);
            log.debug("closing gossip connection {}: a frame stalled for {} ms", ctx.channel().remoteAddress(),
                    stallMillis);
            ctx.close();
        }
    }

    private void refuse(ChannelHandlerContext ctx, ByteBuf in, DropReason reason, String detail) {
        refused = true;
        metrics.dropped(reason);
        log.debug("closing gossip connection {}: {}", ctx.channel().remoteAddress(), detail);
        in.skipBytes(in.readableBytes());
        cancelStallTimer();
        ctx.close();
    }

    private void cancelStallTimer() {
        if (stallTimer != null) {
            stallTimer.cancel(false);
            stallTimer = null;
        }
    }
}
