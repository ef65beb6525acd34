package io.statesync.transfer.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** Which client a connection counts against in the per-client caps. */
class ClientAddressTest {
    @Test
    void anIpv4AddressIsOneClient() throws Exception {
        InetAddress a = InetAddress.getByName("10.1.2.3");

        assertEquals(a, ClientAddress.of(a));
        assertNotEquals(ClientAddress.of(a), ClientAddress.of(InetAddress.getByName("10.1.2.4")));
    }

    @Test
    void ipv6AddressesCountByTheir64BitPrefix() throws Exception {
        // One host picking addresses at will inside its /64 is still one client.
        InetAddress one = InetAddress.getByName("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        InetAddress other = InetAddress.getByName("2001:db8:1:2::1");
        InetAddress nextPrefix = InetAddress.getByName("2001:db8:1:3::1");

        assertEquals(ClientAddress.of(one), ClientAddress.of(other));
        assertEquals(InetAddress.getByName("2001:db8:1:2::"), ClientAddress.of(one));
        assertNotEquals(ClientAddress.of(one), ClientAddress.of(nextPrefix));
    }

    @Test
    void aConnectionsRemoteAddressIsReadThroughTheSocketAddress() throws Exception {
        assertEquals(InetAddress.getByName("127.0.0.2"),
                ClientAddress.of(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 4000)));
        assertNull(ClientAddress.of(InetSocketAddress.createUnresolved("nowhere.example", 80)));
        assertNull(ClientAddress.of(new io.netty.channel.local.LocalAddress("in-process")));
    }
}
