package io.statesync.transfer.server;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.traffic.GlobalTrafficShapingHandler;
import io.netty.util.ReferenceCountUtil;
import io.statesync.core.store.ContentStore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Builds each accepted connection's pipeline: the serving one, or a 503 for a refused connection. */
final class ShareInitializer extends ChannelInitializer<Channel> {
    /** Longest request line (method, target, version) accepted; 414 beyond. */
    static final int MAX_REQUEST_LINE = 4096;
    /** Body bytes handed up per HttpContent while a request body is drained. */
    private static final int MAX_CHUNK = 8192;

    private final ServerConfig config;
    private final ContentStore store;
    private final PrometheusMeterRegistry registry;
    private final ShareMetrics metrics;
    private final ConnectionLimiter limiter;
    /** Where connections are tracked so that the server can close them all. */
    private final ChannelGroup clients;

    /** The server-wide egress cap, or null when there is none. */
    private final GlobalTrafficShapingHandler shaper;
    private final Mounts mounts;

    ShareInitializer(ServerConfig config, ContentStore store, PrometheusMeterRegistry registry, ShareMetrics metrics,
                     ConnectionLimiter limiter, ChannelGroup clients, GlobalTrafficShapingHandler shaper,
                     Mounts mounts) {
        this.mounts = mounts;
        this.shaper = shaper;
        this.config = config;
        this.store = store;
        this.registry = registry;
        this.metrics = metrics;
        this.limiter = limiter;
        this.clients = clients;
    }

    @Override
    protected void initChannel(Channel ch) {
        clients.add(ch);
        ConnectionLimiter.Refused refused = ConnectionLimiter.refused(ch);
        if (refused != null) {
            metrics.refused(refused);
            ch.pipeline().addLast(new HttpResponseEncoder(), new Refusal(refused == ConnectionLimiter.Refused.TOTAL
                    ? "too many connections (limit " + limiter.max() + "), retry later"
                    : "too many connections from your address (limit " + limiter.maxPerAddress() + "), retry later"));
            return;
        }
        ch.closeFuture().addListener(f -> limiter.release(ch));
        if (shaper != null) {
            // First in the pipeline, nearest the socket: it paces every byte written, file regions included.
            ch.pipeline().addLast("shaper", shaper);
        }
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(MAX_REQUEST_LINE)
                .setMaxHeaderSize(config.maxHeaderBytes())
                .setMaxChunkSize(MAX_CHUNK);
        ch.pipeline()
                // observeOutput: a large response that is still moving is not "idle".
                .addLast("idle", new IdleStateHandler(true, 0, 0, config.idleTimeout().toNanos(), TimeUnit.NANOSECONDS))
                .addLast("http", new HttpServerCodec(decoder))
                .addLast("timeouts", new TimeoutGuard(config, metrics))
                .addLast("share", new ShareHandler(store, registry, metrics, mounts));
    }

    /** Answers a connection beyond a limit with 503 and closes it, without reading its request. */
    static final class Refusal extends ChannelInboundHandlerAdapter {
        private static final Logger log = LoggerFactory.getLogger(Refusal.class);
        private final String reason;

        Refusal(String reason) {
            this.reason = reason;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            log.debug("refusing {}: {}", ctx.channel().remoteAddress(), reason);
            FullHttpResponse res = Responses.text(HttpResponseStatus.SERVICE_UNAVAILABLE, reason, false);
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            res.headers().set(HttpHeaderNames.RETRY_AFTER, "1");
            Responses.closeGracefully(ctx.writeAndFlush(res));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            // Whatever the client sent is not going to be answered; drop it.
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("refused connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
