package io.statesync.transfer.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the number of open connections, in total and per client address (an IPv6 client by its
 * /64, {@link ClientAddress}). Sits on the listening
 * channel, so it sees accepted connections one by one in accept order on the single boss thread:
 * the decision for the (n+1)-th connection never races with the n-th. Refused connections are
 * marked with the reason, not dropped, so that {@link ShareInitializer} can tell the client why
 * (503) before closing.
 */
@Sharable
final class ConnectionLimiter extends ChannelInboundHandlerAdapter {
    /** Why a connection was refused at accept. */
    enum Refused {
        /** The server holds its most connections. */
        TOTAL,
        /** The client's address holds its most connections. */
        ADDRESS
    }

    static final AttributeKey<Refused> REFUSED = AttributeKey.valueOf("statesync.share.refused");
    /** The address an admitted connection is counted under. */
    private static final AttributeKey<InetAddress> COUNTED = AttributeKey.valueOf("statesync.share.address");

    private final int max;
    private final int maxPerAddress;
    /** Admitted connections not yet closed. Incremented on the boss thread only, decremented anywhere. */
    private final AtomicInteger open = new AtomicInteger();
    /** Admitted connections per client ({@link ClientAddress}); a client leaves the map with its last connection. */
    private final Map<InetAddress, Integer> perAddress = new ConcurrentHashMap<>();

    ConnectionLimiter(int max, int maxPerAddress) {
        this.max = max;
        this.maxPerAddress = maxPerAddress;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Channel child) {
            InetAddress address = ClientAddress.of(child.remoteAddress());
            if (open.get() >= max) {
                child.attr(REFUSED).set(Refused.TOTAL);
            } else if (address != null && perAddress.getOrDefault(address, 0) >= maxPerAddress) {
                child.attr(REFUSED).set(Refused.ADDRESS);
            } else {
                open.incrementAndGet();
                if (address != null) {
                    perAddress.merge(address, 1, Integer::sum);
                    child.attr(COUNTED).set(address);
                }
            }
        }
        ctx.fireChannelRead(msg);
    }

    /** Called once when an admitted connection closes. */
    void release(Channel ch) {
        open.decrementAndGet();
        InetAddress address = ch.attr(COUNTED).get();
        if (address != null) {
            perAddress.computeIfPresent(address, (a, n) -> n <= 1 ? null : n - 1);
        }
    }

    /** The limit. */
    int max() {
        return max;
    }

    /** The limit per client address. */
    int maxPerAddress() {
        return maxPerAddress;
    }

    /** Admitted connections open now. */
    int open() {
        return open.get();
    }

    /** Why the connection was refused at accept, or null if it was admitted. */
    static Refused refused(Channel ch) {
        return ch.attr(REFUSED).get();
    }
}
