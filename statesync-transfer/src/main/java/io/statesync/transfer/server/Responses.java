package io.statesync.transfer.server;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** Response building blocks shared by every handler: text bodies, common headers, closing politely. */
final class Responses {
    static final String TEXT_PLAIN = "text/plain; charset=utf-8";
    /** Tells browsers not to guess a type: blob bytes are never to be run as a page or script. */
    static final String X_CONTENT_TYPE_OPTIONS = "X-Content-Type-Options";
    /**
     * After the last response on a connection that is to close, how long unread client bytes are
     * still read and dropped. Closing a socket with unread input makes the kernel send RST, which
     * can destroy the response before the client reads it (a client still sending a huge head
     * would see "connection reset" instead of 431).
     */
    static final long LINGER_MILLIS = 2000;

    private Responses() {
    }

    /**
     * A one-line text response, {@code "<code> <reason>\n"}. For HEAD the body is left out and
     * only its length is announced. Errors are never cached: a 404 for a CID may become a 200.
     */
    static FullHttpResponse text(HttpResponseStatus status, String reason, boolean head) {
        byte[] body = (status.code() + " " + reason + "\n").getBytes(StandardCharsets.UTF_8);
        return body(status, body, TEXT_PLAIN, head, status.code() >= 400);
    }

    /** A response with the given body and content type. */
    static FullHttpResponse body(HttpResponseStatus status, byte[] body, String contentType, boolean head,
                                 boolean noStore) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        HttpHeaders h = res.headers();
        h.set(HttpHeaderNames.CONTENT_TYPE, contentType);
        h.set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        h.set(Responses.X_CONTENT_TYPE_OPTIONS, "nosniff");
        if (noStore) {
            h.set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        }
        return res;
    }

    /**
     * Once {@code lastWrite} completes, half-closes the connection, keeps reading and dropping
     * what the client still sends for up to {@link #LINGER_MILLIS}, then closes. The client
     * closing its side first ends the wait early.
     */
    static void closeGracefully(ChannelFuture lastWrite) {
        lastWrite.addListener(f -> {
            Channel ch = lastWrite.channel();
            if (!f.isSuccess() || !(ch instanceof DuplexChannel duplex)) {
                ch.close();
                return;
            }
            duplex.shutdownOutput().addListener(s -> {
                if (!s.isSuccess()) {
                    ch.close();
                    return;
                }
                ch.config().setAutoRead(true);
                ScheduledFuture<?> timer = ch.eventLoop().schedule(() -> ch.close(), LINGER_MILLIS,
                        TimeUnit.MILLISECONDS);
                ch.closeFuture().addListener(c -> timer.cancel(false));
            });
        });
    }
}
