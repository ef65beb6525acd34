package io.statesync.transfer.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the number of open connections. Sits on the listening channel, so it sees accepted
 * connections one by one in accept order on the single boss thread: the decision for the
 * (n+1)-th connection never races with the n-th. Refused connections are marked, not dropped,
 * so that {@link ShareInitializer} can tell the client why (503) before closing.
 */
@Sharable
final class ConnectionLimiter extends ChannelInboundHandlerAdapter {
    /** Set on a connection that arrived while the server was full. */
    static final AttributeKey<Boolean> REFUSED = AttributeKey.valueOf("statesync.share.refused");

    private final int max;
    /** Admitted connections not yet closed. Incremented on the boss thread only, decremented anywhere. */
    private final AtomicInteger open = new AtomicInteger();

    ConnectionLimiter(int max) {
        this.max = max;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Channel child) {
            if (open.get() >= max) {
                child.attr(REFUSED).set(Boolean.TRUE);
            } else {
                open.incrementAndGet();
            }
        }
        ctx.fireChannelRead(msg);
    }

    /** Called once when an admitted connection closes. */
    void release() {
        open.decrementAndGet();
    }

    /** The limit. */
    int max() {
        return max;
    }

    /** Admitted connections open now. */
    int open() {
        return open.get();
    }

    /** True if the connection was marked refused at accept. */
    static boolean refused(Channel ch) {
        return Boolean.TRUE.equals(ch.attr(REFUSED).get());
    }
}
