package io.statesync.transfer.server;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes connections that stall. The head deadline (slowloris guard) runs from connect, and
 * again from the moment the last outstanding response has been fully written, until a complete
 * request head has been decoded; it never runs while a response is being written, however long
 * that takes. The body deadline runs from a head that announces a body until the body's last
 * byte: {@code bodyTimeout} plus the body's length at {@code minBodyBytesPerSecond} (a chunked
 * body, of unknown length, gets {@code bodyTimeout}). It is a deadline, not an idle timer: a
 * client that trickles a byte now and then does not extend it. Idle connections (see the
 * {@code IdleStateHandler} before the codec) are closed. All three close silently: a 408 on an
 * idle keep-alive connection could race with a request the client is sending at that moment and
 * be taken as its answer.
 */
final class TimeoutGuard extends ChannelDuplexHandler {
    private static final Logger log = LoggerFactory.getLogger(TimeoutGuard.class);

    private final long headerTimeoutNanos;
    private final long bodyTimeoutNanos;
    private final long minBodyBytesPerSecond;
    private final ShareMetrics metrics;
    /** The pending head or body deadline, or null while a request is being answered. */
    private ScheduledFuture<?> deadline;
    /** Requests decoded whose responses have not yet been completely written. */
    private int unanswered;

    TimeoutGuard(ServerConfig config, ShareMetrics metrics) {
        this.headerTimeoutNanos = config.headerTimeout().toNanos();
        this.bodyTimeoutNanos = config.bodyTimeout().toNanos();
        this.minBodyBytesPerSecond = config.minBodyBytesPerSecond();
        this.metrics = metrics;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        armHead(ctx);
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
        if (msg instanceof HttpRequest req) {
            unanswered++;
            disarm();
            long length = contentLength(req);
            // Only for the request being answered: one pipelined behind a response still being
            // written is not read yet (reading waits), and its deadline would cut that response.
            if (unanswered == 1 && (length > 0 || HttpUtil.isTransferEncodingChunked(req))) {
                long allowance = length > 0 ? TimeUnit.SECONDS.toNanos(1) * (length / minBodyBytesPerSecond) : 0;
                arm(ctx, "body", bodyTimeoutNanos + allowance, "the request body did not arrive");
            }
        }
        if (msg instanceof LastHttpContent) {
            // The request is complete (a request without a body ends with an empty last content).
            // Answered already (early, before its body ended): the next head's deadline runs.
            if (unanswered == 0) {
                armHead(ctx);
            } else {
                disarm();
            }
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
                    armHead(ctx);
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

    /** The announced body length, or -1 with none or a malformed one (the handler refuses that request). */
    private static long contentLength(HttpRequest req) {
        try {
            return HttpUtil.getContentLength(req, -1L);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void armHead(ChannelHandlerContext ctx) {
        arm(ctx, "header", headerTimeoutNanos, "no complete request head");
    }

    private void arm(ChannelHandlerContext ctx, String kind, long nanos, String what) {
        disarm();
        deadline = ctx.executor().schedule(() -> {
            log.debug("closing {}: {} within {} ms", ctx.channel().remoteAddress(), what,
                    TimeUnit.NANOSECONDS.toMillis(nanos));
            metrics.timedOut(kind);
            ctx.close();
        }, nanos, TimeUnit.NANOSECONDS);
    }

    private void disarm() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }
}
