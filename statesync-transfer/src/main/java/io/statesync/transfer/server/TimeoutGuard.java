package io.statesync.transfer.server;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes connections that stall. The head deadline (slowloris guard) runs from connect, and
 * again from the moment the last outstanding response has been fully written, until a complete
 * request head has been decoded; it never runs while a response is being written, however long
 * that takes. Idle connections (see the {@code IdleStateHandler} before the codec) are closed.
 * Both close silently: a 408 on an idle keep-alive connection could race with a request the
 * client is sending at that moment and be taken as its answer.
 */
final class TimeoutGuard extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(TimeoutGuard.class);

    private final long headerTimeoutNanos;
    private final ShareMetrics metrics;
    /** The pending head deadline, or null while a request is being answered. */
    private ScheduledFuture<?> headDeadline;
    /** Requests decoded whose responses have not yet been completely written. */
    private int unanswered;

    TimeoutGuard(Duration headerTimeout, ShareMetrics metrics) {
        this.headerTimeoutNanos = headerTimeout.toNanos();
        this.metrics = metrics;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        arm(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        disarm();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        disarm();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
            unanswered++;
            disarm();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof LastHttpContent) {
            // Every response ends with exactly one LastHttpContent (a FullHttpResponse is one).
            promise = promise.unvoid();
            promise.addListener(f -> {
                unanswered--;
                if (f.isSuccess() && unanswered == 0 && ctx.channel().isActive()) {
                    arm(ctx);
                }
            });
        }
        ctx.write(msg, promise);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            log.debug("closing {}: idle", ctx.channel().remoteAddress());
            metrics.timedOut("idle");
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    private void arm(ChannelHandlerContext ctx) {
        disarm();
        headDeadline = ctx.executor().schedule(() -> {
            log.debug("closing {}: no complete request head within {} ms", ctx.channel().remoteAddress(),
                    TimeUnit.NANOSECONDS.toMillis(headerTimeoutNanos));
            metrics.timedOut("header");
            ctx.close();
        }, headerTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    private void disarm() {
        if (headDeadline != null) {
            headDeadline.cancel(false);
            headDeadline = null;
        }
    }
}
