package io.statesync.bench;

import static io.statesync.bench.TransferBench.line;
import static io.statesync.bench.TransferBench.log;
import static io.statesync.bench.TransferBench.secs;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.files.FileTrees;
import io.statesync.core.snapshot.ManifestBlocks;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.groups.StateMachine;
import io.statesync.node.chain.LedgerMachine;
import io.statesync.node.ledger.Capture;
import io.statesync.node.ledger.Genesis;
import io.statesync.node.ledger.Proposal;
import io.statesync.node.ledger.Signer;
import io.statesync.node.ledger.ThreadId;
import io.statesync.node.ledger.Transaction;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The ledger's row of {@code ./bench delta}: a node that holds one save of a thread fetches the
 * next, after 1 % of the accounts changed (each wrote a new value and so bumped its nonce).
 * The thread runs on the real {@link LedgerMachine} (blocks proposed, applied, saved by the same
 * code as a node), the saves are cut as the groups cut them (content-defined, 256 KiB on average)
 * and the second fetch goes through the real fetcher from a real share server; it prints the
 * bytes downloaded as a share of the state, for the layered save the node writes and for a flat
 * full dump of the same state.
 *
 * <p>Options: {@code --accounts N} (16384), {@code --value BYTES} (4096), {@code --changed-percent P} (1),
 * {@code --work DIR}.
 */
public final class LedgerDeltaBench {
    private static final ThreadId THREAD = new ThreadId("t0");
    private static final Chunking GROUP_CHUNKING = Chunking.ContentDefined.ofAverage(256 << 10);
    private static final int TXS_PER_BLOCK = 1000;

    private final LedgerMachine machine;
    private final Signer faucet;
    private long index;
    private long nonce;

    private LedgerDeltaBench(LedgerMachine machine, Signer faucet) {
        this.machine = machine;
        this.faucet = faucet;
    }

    public static void main(String[] args) throws Exception {
        int accounts = 16384;
        int value = 4096;
        double percent = 1;
        Path work = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--accounts" -> accounts = Integer.parseInt(args[++i]);
                case "--value" -> value = Integer.parseInt(args[++i]);
                case "--changed-percent" -> percent = Double.parseDouble(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        boolean temporary = work == null;
        if (temporary) {
            work = Files.createTempDirectory("statesync-ledger-delta");
        }
        try {
            run(work, accounts, value, percent).forEach(System.out::println);
        } finally {
            if (temporary) {
                FileTrees.deleteRecursively(work);
            }
        }
    }

    private static List<String> run(Path work, int accounts, int value, double percent) throws Exception {
        Signer faucet = Signer.fromPhrase("ledger-delta-faucet");
        Genesis genesis = Genesis.faucet(faucet.account(), Long.MAX_VALUE / 4);
        List<String> bench = new ArrayList<>();
        // saveEvery 1: an epoch is LedgerMachine's 8 saves, i.e. 8 blocks; the first save below is an
        // epoch's first (full, the base), the second a later one of the same epoch (layered).
        try (LedgerMachine machine = new LedgerMachine(THREAD, work.resolve("ledger"), genesis, 1)) {
            LedgerDeltaBench b = new LedgerDeltaBench(machine, faucet);
            List<Signer> owners = new ArrayList<>(accounts);
            for (int i = 0; i < accounts; i++) {
                owners.add(Signer.fromPhrase("ledger-delta-account-" + i));
            }
            long t0 = System.nanoTime();
            List<Transaction> txs = new ArrayList<>();
            for (Signer owner : owners) {
                txs.add(Transaction.transfer(faucet, THREAD, b.nonce++, owner.account(), 1_000));
            }
            b.applyAll(txs);
            txs.clear();
            SplittableRandom random = new SplittableRandom(42);
            for (Signer owner : owners) {
                txs.add(Transaction.write(owner, THREAD, 0, "data".getBytes(), bytes(random, value)));
            }
            b.applyAll(txs);
            while ((machine.head().height() + 1) % 8 != 0) {
                b.applyAll(List.of(Transaction.transfer(faucet, THREAD, b.nonce++, owners.get(0).account(), 1)));
            }
            b.applyAll(List.of(Transaction.transfer(faucet, THREAD, b.nonce++, owners.get(0).account(), 1)));
            log("state of %d accounts with %d-byte values at height %d in %.1f s", accounts, value,
                    machine.head().height(), secs(t0));

            long s0 = System.nanoTime();
            Path v1 = b.save(work.resolve("v1"));
            double fullSave = secs(s0);
            if (Files.exists(v1.resolve(Capture.OVERLAY_FILE))) {
                throw new IllegalStateException("the epoch's first save is layered");
            }

            int changed = (int) Math.max(1, Math.round(accounts * percent / 100));
            txs.clear();
            for (int k : random.ints(0, accounts).distinct().limit(changed).toArray()) {
                txs.add(Transaction.write(owners.get(k), THREAD, 1, "data".getBytes(), bytes(random, value)));
            }
            b.applyAll(txs);
            s0 = System.nanoTime();
            Path v2 = b.save(work.resolve("v2"));
            double layeredSave = secs(s0);
            if (!Files.exists(v2.resolve(Capture.OVERLAY_FILE))) {
                throw new IllegalStateException("the second save of the epoch is not layered");
            }
            Path flat = work.resolve("v2-flat");
            Files.createDirectories(flat);
            machine.writeSnapshot(flat);
            long state = Files.size(flat.resolve(Capture.STATE_FILE));
            log("changed %d accounts (%.2f %%); full save %.2f s, layered save %.2f s; state %.1f MiB, overlay %.1f KiB",
                    changed, 100.0 * changed / accounts, fullSave, layeredSave, state / 1048576.0,
                    Files.size(v2.resolve(Capture.OVERLAY_FILE)) / 1024.0);

            ContentStore origin = ContentStore.open(work.resolve("origin"));
            SnapshotRef r1 = SnapshotImporter.importPaths(origin, List.of(v1), GROUP_CHUNKING, Map.of("save", "v1"));
            SnapshotRef r2 = SnapshotImporter.importPaths(origin, List.of(v2), GROUP_CHUNKING, Map.of("save", "v2"));
            SnapshotRef rf = SnapshotImporter.importPaths(origin, List.of(flat), GROUP_CHUNKING, Map.of("save", "flat"));
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            try (FileShareServer server = FileShareServer.start(ServerConfig.loopback(), origin, registry)) {
                List<Source> sources = List.of(new Source(server.uri()));
                long layered = secondFetch(work.resolve("client-layered"), r1, r2, sources, registry);
                long flatFetched = secondFetch(work.resolve("client-flat"), r1, rf, sources, registry);
                bench.add(line("delta_ledger_accounts_1pct_layered_percent", 100.0 * layered / state, "percent"));
                bench.add(line("delta_ledger_accounts_1pct_flat_percent", 100.0 * flatFetched / state, "percent"));
            }
            bench.add(line("ledger_save_full_seconds", fullSave, "s"));
            bench.add(line("ledger_save_layered_seconds", layeredSave, "s"));
        }
        return bench;
    }

    /** Fetches {@code first} into a fresh store, then {@code second}: the bytes the second downloaded, manifest included. */
    private static long secondFetch(Path dir, SnapshotRef first, SnapshotRef second, List<Source> sources,
                                    PrometheusMeterRegistry registry) throws Exception {
        ContentStore store = ContentStore.open(dir);
        try (SnapshotFetcher fetcher = new SnapshotFetcher(store, registry)) {
            fetcher.fetch(first.root(), sources, FetchOptions.DEFAULT, null);
            FetchResult r = fetcher.fetch(second.root(), sources, FetchOptions.DEFAULT, null);
            long manifest = 0;
            ManifestBlocks.Encoded encoded = ManifestBlocks.encode(second.manifest());
            manifest += encoded.root().length;
            for (byte[] part : encoded.parts()) {
                manifest += part.length;
            }
            log("%s: the second save downloaded %d chunks, %.1f KiB (+ %.1f KiB of manifest), %d chunks local",
                    dir.getFileName(), r.chunksFetched(), r.bytesFetched() / 1024.0, manifest / 1024.0, r.chunksLocal());
            return r.bytesFetched() + manifest;
        }
    }

    private void applyAll(List<Transaction> txs) {
        for (int from = 0; from < txs.size(); from += TXS_PER_BLOCK) {
            List<Transaction> batch = txs.subList(from, Math.min(txs.size(), from + TXS_PER_BLOCK));
            Proposal p = machine.propose(batch, "bench", 1000 + index, TXS_PER_BLOCK, 16 << 20);
            if (!p.rejected().isEmpty()) {
                throw new IllegalStateException("rejected: " + p.rejected().get(0));
            }
            machine.apply(++index, p.block().encode());
        }
    }

    private Path save(Path dir) throws Exception {
        Files.createDirectories(dir);
        try (StateMachine.SnapshotCapture c = machine.capture().orElseThrow()) {
            c.writeTo(dir);
        }
        return dir;
    }

    private static byte[] bytes(SplittableRandom random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }
}
