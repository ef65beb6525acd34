package io.statesync.transfer.server;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * The client a connection counts against in per-client connection caps. An IPv4 address is one
 * client. An IPv6 address counts as its /64: a single host is usually given a whole /64 and can
 * pick any address in it, so a cap per address would be a cap per nothing.
 */
public final class ClientAddress {
    private static final int IPV6_PREFIX_BYTES = 8;

    private ClientAddress() {
    }

    /** The client {@code address} belongs to: itself for IPv4, its /64 prefix for IPv6. */
    public static InetAddress of(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address;
        }
        byte[] prefix = Arrays.copyOf(address.getAddress(), 16);
        Arrays.fill(prefix, IPV6_PREFIX_BYTES, 16, (byte) 0);
        try {
            return InetAddress.getByAddress(prefix);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("16 bytes are an IPv6 address", e);
        }
    }

    /** The client of a connection's remote address, or null when it is not an IP address. */
    public static InetAddress of(SocketAddress remote) {
        return remote instanceof java.net.InetSocketAddress inet && inet.getAddress() != null ? of(inet.getAddress())
                : null;
    }
}
