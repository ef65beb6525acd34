package io.statesync.transfer.server;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.traffic.GlobalTrafficShapingHandler;
import io.netty.util.ReferenceCountUtil;
import io.statesync.core.store.ContentStore;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
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
            // Under TLS the 503 is sent encrypted too: a TLS client could not read it otherwise.
            addTls(ch);
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
        boolean tls = addTls(ch);
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(MAX_REQUEST_LINE)
                .setMaxHeaderSize(config.maxHeaderBytes())
                .setMaxChunkSize(MAX_CHUNK);
        ch.pipeline()
                // observeOutput: a large response that is still moving is not "idle".
                .addLast("idle", new IdleStateHandler(true, 0, 0, config.idleTimeout().toNanos(), TimeUnit.NANOSECONDS))
                .addLast("http", new HttpServerCodec(decoder));
        if (tls) {
            // Blob bytes cannot go by sendfile through TLS: ShareHandler then writes them as
            // chunks of the file, which this handler reads as the socket takes them.
            ch.pipeline().addLast("chunks", new ChunkedWriteHandler());
        }
        ch.pipeline()
                .addLast("timeouts", new TimeoutGuard(config, metrics))
                .addLast("share", new ShareHandler(store, registry, metrics, mounts));
    }

    /**
     * Puts TLS nearest the socket (after the egress cap, which then paces the encrypted bytes),
     * when the server has it. Its handshake must finish within the header timeout, so a client
     * that connects and never says hello is dropped like one that never sends a request.
     */
    private boolean addTls(Channel ch) {
        if (config.tls() == null) {
            return false;
        }
        SslHandler ssl = config.tls().serverContext().newHandler(ch.alloc());
        ssl.setHandshakeTimeout(config.headerTimeout().toMillis(), TimeUnit.MILLISECONDS);
        ch.pipeline().addLast("tls", ssl).addLast("tls-handshake", new HandshakeWatch(metrics));
        return true;
    }

    /**
     * Counts failed handshakes (plain HTTP sent to the TLS port, an untrusted or missing client
     * certificate, a client that gave up on ours) and closes those connections quietly: they are
     * the client's problem, reported to it by the handshake, and must not fill the server's log.
     */
    static final class HandshakeWatch extends ChannelInboundHandlerAdapter {
        private static final Logger log = LoggerFactory.getLogger(HandshakeWatch.class);
        private final ShareMetrics metrics;
        private boolean done;

        HandshakeWatch(ShareMetrics metrics) {
            this.metrics = metrics;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof SslHandshakeCompletionEvent hs) {
                done = true;
                if (!hs.isSuccess()) {
                    metrics.tlsHandshakeFailed();
                    log.debug("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), hs.cause().toString());
                    ctx.close();
                    return;
                }
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!done || cause instanceof DecoderException && cause.getCause() instanceof SSLException) {
                log.debug("TLS connection {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
                ctx.close();
                return;
            }
            ctx.fireExceptionCaught(cause);
        }
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
