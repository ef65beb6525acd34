package io.statesync.bench;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.cid.Cid;
import io.statesync.core.files.FileTrees;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.SnapshotFetcher;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The transfer benchmark: a snapshot fetched from 3 local file shares, compared with the same
 * JVM's single-thread SHA-256 rate and with a plain single-source download of the same bytes,
 * all in one run. Prints {@code BENCH} lines last.
 *
 * <p>Arguments: {@code [--size 1GiB] [--chunk-sizes 1MiB] [--work DIR] [--keep]}. With several
 * chunk sizes (comma-separated) each is measured from 3 sources and reported on its own line.
 */
public final class TransferBench {
    private static final double MIB = 1024.0 * 1024.0;
    private static FetchOptions options = FetchOptions.DEFAULT;
    /** Per-source egress cap of the capped-sources comparison: a fast peer's uplink. */
    private static final long SOURCE_CAP = 100L << 20;

    public static void main(String[] args) throws Exception {
        long size = 1L << 30;
        List<Integer> chunkSizes = List.of(SnapshotImporter.DEFAULT_CHUNK_SIZE);
        List<String> chunkings = null;
        Path work = null;
        boolean keep = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--size" -> size = parseSize(args[++i]);
                case "--chunk-sizes" -> chunkSizes = Stream.of(args[++i].split(",")).map(s -> (int) parseSize(s)).toList();
                case "--work" -> work = Path.of(args[++i]);
                case "--keep" -> keep = true;
                case "--chunkings" -> chunkings = List.of(args[++i].split(","));
                case "--parallel" -> options = options.withParallelism(Integer.parseInt(args[++i]));
                case "--per-source" -> options = options.withPerSourceParallelism(Integer.parseInt(args[++i]));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (work == null) {
            work = Files.createTempDirectory("statesync-bench-");
        }
        List<String> bench = new ArrayList<>();
        try {
            if (chunkings != null) {
                sweepChunkings(work, size, chunkings, bench);
            } else {
                run(work, size, chunkSizes, bench);
            }
        } finally {
            if (!keep) {
                FileTrees.deleteRecursively(work);
            }
        }
        for (String line : bench) {
            System.out.println(line);
        }
    }

    private static void run(Path work, long size, List<Integer> chunkSizes, List<String> bench) throws Exception {
        Path input = work.resolve("input");
        log("generating %.0f MiB of snapshot files in %s", size / MIB, input);
        generate(input, size);
        double sha = sha256Rate();
        log("single-thread SHA-256: %.1f MiB/s", sha);
        bench.add(line("sha256_single_thread", sha, "MiB/s"));

        for (int chunkSize : chunkSizes) {
            String suffix = chunkSizes.size() > 1 ? "_chunk" + (chunkSize / 1024) + "k" : "";
            ContentStore origin = ContentStore.open(work.resolve("origin-" + chunkSize));
            long t0 = System.nanoTime();
            SnapshotRef snap = SnapshotImporter.importPaths(origin, List.of(input), chunkSize, Map.of("bench", "transfer"));
            log("imported at %d KiB chunks in %.1f s: %s", chunkSize / 1024, secs(t0), snap.root());

            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            List<FileShareServer> servers = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    servers.add(FileShareServer.start(ServerConfig.loopback(), origin, registry));
                }
                List<Source> sources = servers.stream().map(s -> new Source(s.uri())).toList();

                double multi = fetchRate(work.resolve("client3-" + chunkSize), snap, sources, registry);
                bench.add(line("fetch_3_sources" + suffix, multi, "MiB/s"));
                if (chunkSizes.size() > 1) {
                    continue;
                }
                bench.add(line("fetch_vs_sha256_ratio", multi / sha, "ratio"));
                double disk = durableWriteRate(work.resolve("disk"), size, chunkSize, options.parallelism());
                bench.add(line("durable_write_baseline", disk, "MiB/s"));
                bench.add(line("fetch_vs_durable_write_ratio", multi / disk, "ratio"));

                double one = fetchRate(work.resolve("client1"), snap, sources.subList(0, 1), registry);
                bench.add(line("fetch_1_source", one, "MiB/s"));

                double plain = plainDownloadRate(work.resolve("plain"), snap, sources.get(0));
                bench.add(line("plain_single_source_download", plain, "MiB/s"));
                bench.add(line("fetch_3_sources_vs_plain_ratio", multi / plain, "ratio"));
                bench.add(line("fetch_3_sources_vs_1_source_ratio", multi / one, "ratio"));

                double[] capped = cappedSourcesRates(work, snap, origin, registry);
                bench.add(line("fetch_3_capped_sources", capped[0], "MiB/s"));
                bench.add(line("fetch_1_capped_source", capped[1], "MiB/s"));
                bench.add(line("capped_3_vs_1_ratio", capped[0] / capped[1], "ratio"));

                Path out = work.resolve("out");
                ContentStore client = ContentStore.open(work.resolve("client3-" + chunkSize));
                long m0 = System.nanoTime();
                Materializer.materialize(snap.manifest(), client, out, true, null);
                bench.add(line("materialize_verified", size / MIB / secs(m0), "MiB/s"));
                bench.add(line("heap_max", Runtime.getRuntime().maxMemory() / MIB, "MiB"));
                bench.add(line("heap_peak_used", peakHeap() / MIB, "MiB"));
            } finally {
                for (FileShareServer s : servers) {
                    s.close();
                }
            }
        }
    }

    /**
     * {@code --chunkings fixed1m,cdc64k,...}: for each chunking, the snapshot fetched straight into
     * its files ({@code fetch --out}'s path) from 3 in-process shares, after one warm-up fetch, so
     * the rows compare the per-chunk cost of each chunking and nothing else.
     */
    private static void sweepChunkings(Path work, long size, List<String> names, List<String> bench) throws Exception {
        Path input = work.resolve("input");
        generate(input, size);
        for (String name : names) {
            Chunking chunking = name.equals("fixed1m") ? new Chunking.Fixed(1 << 20)
                    : Chunking.ContentDefined.ofAverage((int) parseSize(name.replace("cdc", "")));
            ContentStore origin = ContentStore.open(work.resolve("origin-" + name));
            SnapshotRef snap = SnapshotImporter.importPaths(origin, List.of(input), chunking, Map.of("bench", name));
            log("%s: %d chunks", name, snap.manifest().chunkCount());
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            List<FileShareServer> servers = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    servers.add(FileShareServer.start(ServerConfig.loopback(), origin, registry));
                }
                List<Source> sources = servers.stream().map(s -> new Source(s.uri())).toList();
                fetchIntoRate(work.resolve("warm-" + name), snap, sources, registry);
                double rate = fetchIntoRate(work.resolve("into-" + name), snap, sources, registry);
                bench.add(line("fetch_into_3_sources_" + name, rate, "MiB/s"));
            } finally {
                for (FileShareServer s : servers) {
                    s.close();
                }
                FileTrees.deleteRecursively(work.resolve("origin-" + name));
            }
        }
    }

    /** {@code fetch --out}'s path into a fresh directory and store; MiB/s including the final syncs. */
    private static double fetchIntoRate(Path dir, SnapshotRef snap, List<Source> sources, PrometheusMeterRegistry registry)
            throws Exception {
        ContentStore store = ContentStore.open(dir.resolve("store"));
        try (SnapshotFetcher fetcher = new SnapshotFetcher(store, registry)) {
            FetchResult r = fetcher.fetchInto(snap.root(), io.statesync.transfer.fetch.SourceResolver.of(sources),
                    dir.resolve("out"), options, null);
            double rate = r.bytesFetched() / MIB / (r.elapsed().toNanos() / 1e9);
            log("fetch into files from %d source(s): %.0f MiB in %d chunks, %.2f s = %.1f MiB/s", sources.size(),
                    r.bytesFetched() / MIB, r.chunksFetched(), r.elapsed().toNanos() / 1e9, rate);
            return rate;
        } finally {
            FileTrees.deleteRecursively(dir);
        }
    }

    /** Our fetcher into a fresh store; MiB/s of verified chunks landed in the store. */
    private static double fetchRate(Path storeDir, SnapshotRef snap, List<Source> sources, PrometheusMeterRegistry registry)
            throws Exception {
        ContentStore store = ContentStore.open(storeDir);
        try (SnapshotFetcher fetcher = new SnapshotFetcher(store, registry)) {
            FetchResult r = fetcher.fetch(snap.root(), sources, options, null);
            double rate = r.bytesFetched() / MIB / (r.elapsed().toNanos() / 1e9);
            log("fetch from %d source(s): %.0f MiB in %.2f s = %.1f MiB/s", sources.size(), r.bytesFetched() / MIB,
                    r.elapsed().toNanos() / 1e9, rate);
            r.sources().forEach(s -> log("  %s", s.summary()));
            return rate;
        }
    }

    /**
     * Loopback has no per-source bandwidth limit, so there the gain of several sources is only
     * CPU overlap. Real peers are limited by their uplinks: here each server is capped at
     * {@link #SOURCE_CAP} bytes per second, and the same fetch runs from 3 sources and from 1.
     */
    private static double[] cappedSourcesRates(Path work, SnapshotRef snap, ContentStore origin,
                                               PrometheusMeterRegistry registry) throws Exception {
        List<FileShareServer> servers = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                servers.add(FileShareServer.start(ServerConfig.loopback().withMaxBytesPerSecond(SOURCE_CAP), origin, registry));
            }
            List<Source> sources = servers.stream().map(s -> new Source(s.uri())).toList();
            log("each source capped at %.0f MiB/s:", SOURCE_CAP / MIB);
            double three = fetchRate(work.resolve("capped3"), snap, sources, registry);
            double one = fetchRate(work.resolve("capped1"), snap, sources.subList(0, 1), registry);
            FileTrees.deleteRecursively(work.resolve("capped3"));
            FileTrees.deleteRecursively(work.resolve("capped1"));
            return new double[] {three, one};
        } finally {
            for (FileShareServer s : servers) {
                s.close();
            }
        }
    }

    /**
     * The baseline: what a plain client does (the seed's loader): one source, one request at a
     * time, bytes streamed to disk with no verification.
     */
    private static double plainDownloadRate(Path dir, SnapshotRef snap, Source source) throws Exception {
        Files.createDirectories(dir);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        long bytes = 0;
        long t0 = System.nanoTime();
        byte[] buf = new byte[128 * 1024];
        for (Cid c : new LinkedHashSet<>(snap.manifest().files().stream().flatMap(f -> f.chunks().stream()).toList())) {
            HttpRequest req = HttpRequest.newBuilder(URI.create(source.base() + "/ipfs/" + c)).GET().build();
            HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = resp.body();
                 OutputStream out = Files.newOutputStream(dir.resolve(c.toString()), StandardOpenOption.CREATE_NEW)) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    out.write(buf, 0, n);
                    bytes += n;
                }
            }
        }
        double rate = bytes / MIB / secs(t0);
        log("plain single-source download: %.0f MiB in %.2f s = %.1f MiB/s", bytes / MIB, secs(t0), rate);
        return rate;
    }

    /**
     * The disk's share of the bound: the same bytes written as chunk-sized files, each fsynced,
     * with the fetch's parallelism and no network or hashing. A fetch cannot beat this.
     */
    private static double durableWriteRate(Path dir, long size, int chunkSize, int parallelism) throws Exception {
        Files.createDirectories(dir);
        byte[] buf = new byte[chunkSize];
        new SplittableRandom(3).nextBytes(buf);
        long files = (size + chunkSize - 1) / chunkSize;
        java.util.concurrent.atomic.AtomicLong next = new java.util.concurrent.atomic.AtomicLong();
        long t0 = System.nanoTime();
        try (var pool = java.util.concurrent.Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("bench-disk-", 0).factory())) {
            for (int w = 0; w < parallelism; w++) {
                pool.submit(() -> {
                    long i;
                    while ((i = next.getAndIncrement()) < files) {
                        try (var ch = java.nio.channels.FileChannel.open(dir.resolve("f" + i), StandardOpenOption.CREATE_NEW,
                                StandardOpenOption.WRITE)) {
                            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buf);
                            while (b.hasRemaining()) {
                                ch.write(b);
                            }
                            ch.force(false);
                        }
                    }
                    return null;
                });
            }
        }
        double rate = files * (double) chunkSize / MIB / secs(t0);
        log("durable write baseline (%d files of %d KiB, fsync each, %d in parallel): %.1f MiB/s", files, chunkSize / 1024,
                parallelism, rate);
        FileTrees.deleteRecursively(dir);
        return rate;
    }

    /** Single-thread SHA-256 over an in-memory buffer, after a warm-up. */
    private static double sha256Rate() {
        byte[] buf = new byte[1 << 20];
        new SplittableRandom(1).nextBytes(buf);
        MessageDigest md = Cid.newDigest();
        for (int i = 0; i < 256; i++) {
            md.update(buf);
        }
        md.digest();
        int rounds = 1024;
        long t0 = System.nanoTime();
        for (int i = 0; i < rounds; i++) {
            md.update(buf);
        }
        md.digest();
        return rounds / secs(t0);
    }

    private static void generate(Path dir, long size) throws IOException {
        Files.createDirectories(dir);
        int files = 8;
        long per = size / files;
        byte[] buf = new byte[1 << 20];
        SplittableRandom rnd = new SplittableRandom(2026);
        for (int i = 0; i < files; i++) {
            long n = i == files - 1 ? size - per * (files - 1) : per;
            try (OutputStream out = Files.newOutputStream(dir.resolve("part-" + i + ".db"))) {
                while (n > 0) {
                    rnd.nextBytes(buf);
                    int k = (int) Math.min(buf.length, n);
                    out.write(buf, 0, k);
                    n -= k;
                }
            }
        }
    }

    private static long peakHeap() {
        long peak = 0;
        for (var pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getPeakUsage() != null) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak;
    }

    static long parseSize(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        for (var e : List.of(Map.entry("gib", 1L << 30), Map.entry("mib", 1L << 20), Map.entry("kib", 1L << 10),
                Map.entry("g", 1L << 30), Map.entry("m", 1L << 20), Map.entry("k", 1L << 10))) {
            if (t.endsWith(e.getKey())) {
                mult = e.getValue();
                t = t.substring(0, t.length() - e.getKey().length());
                break;
            }
        }
        return Long.parseLong(t) * mult;
    }

    /** One {@code BENCH <name> <value> <unit>} line; the other benches print theirs through it too. */
    static String line(String name, double value, String unit) {
        return String.format(Locale.ROOT, "BENCH %s %.3f %s", name, value, unit);
    }

    static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    static void log(String fmt, Object... args) {
        System.err.printf(Locale.ROOT, fmt + "%n", args);
    }


    static List<FileEntry> files(SnapshotRef s) {
        return s.manifest().files();
    }
}
