package io.statesync.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.statesync.transfer.server.RouteException;
import io.statesync.transfer.server.RouteRequest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The node API is mounted before the node has opened its threads; until then every call is a 503. */
class NodeRoutesStartingTest {
    @Test
    void everyCallBeforeTheNodeRunsIs503Starting() {
        try (NodeRoutes routes = new NodeRoutes("n7", null)) {
            for (String route : List.of("status", "tx", "balance", "producer")) {
                RouteException e = assertThrows(RouteException.class,
                        () -> routes.handle(new RouteRequest("GET", List.of(route), Map.of())), route);
                assertEquals(503, e.status(), route);
                assertTrue(e.getMessage().contains("n7 is starting"), e.getMessage());
            }
        }
    }
}
