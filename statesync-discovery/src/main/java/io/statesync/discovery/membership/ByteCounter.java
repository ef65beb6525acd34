package io.statesync.discovery.membership;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/** Counts every byte a gossip connection reads or writes; sits next to the socket, so garbage counts too. */
final class ByteCounter extends ChannelDuplexHandler {

    private final GossipMetrics metrics;

    ByteCounter(GossipMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b) {
            metrics.received(b.readableBytes());
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf b) {
            metrics.sent(b.readableBytes());
        }
        ctx.write(msg, promise);
    }
}
