package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.Meter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;

/** The fetch gauges when several fetchers report to one registry, as a node's groups do. */
class FetchMetricsTest {
    @Test
    void runningFetchesOfEveryFetcherOnARegistryAddUpInOneGauge() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        FetchMetrics first = new FetchMetrics(registry);
        FetchMetrics second = new FetchMetrics(registry);

        first.started();
        second.started();
        second.started();

        assertEquals(3.0, registry.get("statesync.fetch.active").gauge().value());
        second.finished("ok", 1_000);
        assertEquals(2.0, registry.get("statesync.fetch.active").gauge().value());
        assertEquals(1, registry.getMeters().stream().map(Meter::getId)
                .filter(id -> id.getName().equals("statesync.fetch.active")).count());

        // Another registry counts its own fetchers only.
        PrometheusMeterRegistry other = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new FetchMetrics(other).started();
        assertEquals(1.0, other.get("statesync.fetch.active").gauge().value());
        assertEquals(2.0, registry.get("statesync.fetch.active").gauge().value());
    }
}
