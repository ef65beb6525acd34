package io.statesync.node;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.statesync.groups.GroupStatus;
import io.statesync.node.chain.ChainThread;
import io.statesync.node.ledger.Head;
import io.statesync.node.ledger.Ledger;
import io.statesync.node.ledger.ThreadId;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * What {@code /node/status} says per thread, as Prometheus gauges, so a dashboard and alerts
 * need no JSON: {@code statesync_node_thread_*{thread}} (height, state bytes, applied and
 * commit index, one {@code role} series per role with 1 on the current one, halted, catching
 * up, mempool, sync progress), the ledger's RocksDB basics ({@code statesync_node_rocksdb_*{thread}}),
 * {@code statesync_build_info{version,java}}, the data directory's free and total bytes,
 * and the JVM and process basics (memory, GC, threads, classes, CPU, uptime, open files). Read at scrape time; owned and closed by the node.
 */
final class NodeMetrics implements AutoCloseable {
    /** The roles a thread's member can have ({@link GroupStatus#role()}). */
    static final List<String> ROLES = List.of("LEADER", "FOLLOWER", "CANDIDATE", "LISTENER", "UNKNOWN");

    private final JvmGcMetrics gc = new JvmGcMetrics();

    NodeMetrics(MeterRegistry registry, Map<ThreadId, ChainThread> threads, java.nio.file.Path dataDir) {
        String version = NodeMetrics.class.getPackage().getImplementationVersion();
        Gauge.builder("statesync.build.info", () -> 1)
                .tag("version", version == null ? "dev" : version)
                .tag("java", System.getProperty("java.version"))
                .description("1, labelled with the version of this build and the Java runtime").register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        // The data directory's file system: what a "disk nearly full" alert needs without a host exporter.
        Gauge.builder("statesync.node.data.free", dataDir, d -> space(d, true)).baseUnit("bytes")
                .description("bytes free for this node on its data directory's file system").register(registry);
        Gauge.builder("statesync.node.data.capacity", dataDir, d -> space(d, false)).baseUnit("bytes")
                .description("size of the data directory's file system").register(registry);
        for (ChainThread t : threads.values()) {
            String name = t.id().name();
            head(registry, t, "statesync.node.thread.height", null, "height of the thread's head block", Head::height);
            head(registry, t, "statesync.node.thread.state", "bytes", "logical size of the thread's state",
                    Head::stateBytes);
            group(registry, t, "statesync.node.thread.applied.index", "log index this member applied",
                    g -> g.applied() == null ? -1 : g.applied().index());
            group(registry, t, "statesync.node.thread.commit.index", "log index the thread's group committed",
                    GroupStatus::commitIndex);
            group(registry, t, "statesync.node.thread.catching.up", "1 while this member catches up with its group",
                    g -> g.catchingUp() ? 1 : 0);
            for (String role : ROLES) {
                Gauge.builder("statesync.node.thread.role", t, x -> role.equals(x.groupStatus().role()) ? 1 : 0)
                        .tag("thread", name).tag("role", role.toLowerCase(java.util.Locale.ROOT))
                        .description("1 for this member's current role in the thread's group").register(registry);
            }
            Gauge.builder("statesync.node.thread.halted", t, x -> x.machine().halted() == null ? 0 : 1)
                    .tag("thread", name).description("1 once the thread halted on this member (a block it could not apply)")
                    .register(registry);
            Gauge.builder("statesync.node.thread.mempool.transactions", t, x -> x.mempool().size())
                    .tag("thread", name).description("transactions waiting in this node's pool for the thread")
                    .register(registry);
            group(registry, t, "statesync.node.thread.sync.progress", "how far this member's running catch-up or "
                    + "state load is, 0 to 1 (0 when none runs)", NodeMetrics::syncProgress);
            for (var p : STORE_PROPERTIES.entrySet()) {
                Gauge.builder("statesync.node.rocksdb." + p.getKey(), t,
                                x -> x.machine().read(l -> l.storeProperty(p.getValue().property())))
                        .tag("thread", name).baseUnit(p.getValue().unit()).description(p.getValue().what())
                        .register(registry);
            }
        }
    }

    /** A RocksDB property exported per thread: its name, unit and meaning. */
    private record StoreProperty(String property, String unit, String what) {
    }

    /** The ledger database's basics: how much it holds, on disk and in memory. */
    private static final Map<String, StoreProperty> STORE_PROPERTIES = Map.of(
            "keys", new StoreProperty("rocksdb.estimate-num-keys", null, "RocksDB's estimate of the keys in the ledger"),
            "sst.files", new StoreProperty("rocksdb.total-sst-files-size", "bytes", "size of the ledger's SST files"),
            "live.data", new StoreProperty("rocksdb.estimate-live-data-size", "bytes",
                    "RocksDB's estimate of the ledger's live data"),
            "memtables", new StoreProperty("rocksdb.cur-size-all-mem-tables", "bytes",
                    "memory the ledger's memtables hold"),
            "pending.compaction", new StoreProperty("rocksdb.estimate-pending-compaction-bytes", "bytes",
                    "bytes RocksDB estimates compaction still has to rewrite"));

    private static double syncProgress(GroupStatus g) {
        var p = g.syncProgress();
        return p == null || p.total() <= 0 ? 0 : Math.min(1.0, (double) p.done() / p.total());
    }

    private static void head(MeterRegistry registry, ChainThread t, String metric, String unit, String what,
                             ToDoubleFunction<Head> value) {
        Gauge.builder(metric, t, x -> value.applyAsDouble(x.machine().read(Ledger::head)))
                .tag("thread", t.id().name()).baseUnit(unit).description(what).register(registry);
    }

    private static void group(MeterRegistry registry, ChainThread t, String metric, String what,
                              ToDoubleFunction<GroupStatus> value) {
        Gauge.builder(metric, t, x -> value.applyAsDouble(x.groupStatus())).tag("thread", t.id().name())
                .description(what).register(registry);
    }

    /** Usable or total bytes of the file system holding {@code dir}; NaN if it cannot be read. */
    private static double space(java.nio.file.Path dir, boolean usable) {
        try {
            java.nio.file.FileStore store = java.nio.file.Files.getFileStore(dir);
            return usable ? store.getUsableSpace() : store.getTotalSpace();
        } catch (java.io.IOException e) {
            return Double.NaN;
        }
    }

    @Override
    public void close() {
        gc.close();
    }
}
