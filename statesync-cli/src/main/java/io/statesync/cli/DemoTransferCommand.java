package io.statesync.cli;

import io.statesync.core.files.FileTrees;
import io.statesync.core.units.Durations;
import io.statesync.core.units.Sizes;
import io.statesync.core.cid.Cid;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.Source;
import io.statesync.transfer.fetch.SourceStats;
import io.statesync.transfer.fetch.SourceStats.SourceState;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code statesync demo-transfer}: the whole transfer story on one machine. Generates a
 * snapshot, shares it from three stores on loopback (an original, a hard-linked copy and a
 * copy with a tenth of its chunks corrupted), fetches it from all three at once, and checks
 * that the files written are byte-identical to the originals and that the corrupt source was
 * caught. Exit 0 only if they are identical.
 */
@Command(name = "demo-transfer", mixinStandardHelpOptions = true,
        description = {"Generates a snapshot, serves it from three local stores (one corrupt), fetches it from all"
                + " three, and verifies the result is byte-identical to the input."})
final class DemoTransferCommand implements Callable<Integer> {
    /** Part of the corrupt source's chunks overwritten with wrong bytes. */
    static final double CORRUPT_FRACTION = 0.10;
    private static final long MIN_SIZE = 1 << 10;
    private static final long MAX_SIZE = 1L << 40;
    /** Fixed seeds: the same size gives the same snapshot and the same root CID every run. */
    private static final long DATA_SEED = 0x5747_e5e9_c0de_0001L;
    private static final long CORRUPT_SEED = 0x5747_e5e9_c0de_0002L;

    private final Environment env;

    @Spec
    private CommandSpec spec;

    @Option(names = "--size", paramLabel = "SIZE", defaultValue = "256MiB", converter = Converters.Size.class,
            description = "snapshot size, e.g. 8MiB, 1GiB (default: ${DEFAULT-VALUE})")
    private long size;

    @Option(names = "--work", paramLabel = "DIR",
            description = "keep the input, stores and output here (must be empty or absent); default: a temp dir deleted at the end")
    private Path work;

    DemoTransferCommand(Environment env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        if (size < MIN_SIZE || size > MAX_SIZE) {
            throw new ParameterException(spec.commandLine(), "--size must be between 1KiB and 1TiB, got " + size + " bytes");
        }
        Path dir;
        if (work != null) {
            if (Files.exists(work) && !Directories.isEmptyDirectory(work)) {
                throw new ParameterException(spec.commandLine(), "--work " + work + " must be an empty directory or not exist");
            }
            dir = Files.createDirectories(work);
        } else {
            dir = Files.createTempDirectory("statesync-demo-");
        }
        try {
            return demo(dir);
        } finally {
            if (work == null) {
                FileTrees.deleteRecursively(dir);
            }
        }
    }

    /** The demo's input and its three sources, ready to serve. */
    private record Setup(Path input, int files, Cid root, long chunks, Path storeA, Path storeB, Path storeC,
                         int corrupted) {
    }

    /** What the download did. */
    private record Download(FetchResult fetch, Map<Source, String> names, Source corrupt, Path output, Duration writeTime) {
    }

    private int demo(Path dir) throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        say(err, "demo-transfer: working in " + dir + (work == null ? " (deleted at the end)" : ""));
        Setup setup = prepare(dir, err);
        Download download = download(setup, dir, err);

        long t0 = System.nanoTime();
        List<String> differences = Trees.differences(setup.input(), download.output());
        report(setup, download, since(t0));
        if (!differences.isEmpty()) {
            throw new CommandFailure("demo-transfer: the output differs from the input: " + differences.get(0)
                    + (differences.size() > 1 ? " (and " + (differences.size() - 1) + " more differences)" : ""));
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("verified: " + download.output() + " is byte-identical to " + setup.input() + " ("
                + setup.files() + " files, sha-256 each)");
        out.flush();
        return Failures.OK;
    }

    /** Generates the input, shares it into store A, and derives B (linked) and C (copied, corrupted). */
    private Setup prepare(Path dir, PrintWriter err) throws Exception {
        Path input = dir.resolve("input");
        long t0 = System.nanoTime();
        List<DemoSnapshot.Planned> files = DemoSnapshot.generate(input, size, DATA_SEED);
        say(err, String.format(Locale.ROOT, "generated %s in %d files under %s in %s", Sizes.mib(size), files.size(),
                input, since(t0)));

        t0 = System.nanoTime();
        Path a = dir.resolve("store-a");
        SnapshotRef ref = SnapshotImporter.importPaths(ContentStore.open(a), List.of(input),
                SnapshotImporter.DEFAULT_CHUNK_SIZE, Map.of("demo", "transfer", "bytes", Long.toString(size)));
        long chunks = ref.manifest().chunkCount();
        say(err, "shared into store A in " + since(t0) + ": " + chunks + " chunks, root " + ref.root());

        Path b = dir.resolve("store-b");
        DemoStores.link(a, b);
        Path c = dir.resolve("store-c");
        DemoStores.copy(a, c);
        List<Cid> corrupted = DemoStores.corrupt(c, a, CORRUPT_FRACTION, CORRUPT_SEED);
        say(err, "store B: hard links to A; store C: a copy with " + corrupted.size() + " of " + chunks
                + " chunks corrupted (same length, other bytes)");
        return new Setup(input, files.size(), ref.root(), chunks, a, b, c, corrupted.size());
    }

    /** Serves A, B and C on loopback, fetches the snapshot from all three into a fresh store, writes it out. */
    private Download download(Setup setup, Path dir, PrintWriter err) throws Exception {
        ContentStore fetched = ContentStore.open(dir.resolve("store-fetched"));
        ProgressReporter progress = ProgressReporter.forEnvironment(env, err);
        Map<Source, String> names = new LinkedHashMap<>();
        Source corrupt;
        FetchResult fetch;
        try (LocalShare a = LocalShare.start(setup.storeA()); LocalShare b = LocalShare.start(setup.storeB());
             LocalShare c = LocalShare.start(setup.storeC())) {
            names.put(a.source(), "A");
            names.put(b.source(), "B");
            corrupt = c.source();
            names.put(corrupt, "C (corrupt)");
            names.forEach((source, name) -> say(err, "source " + name + ": " + source));
            FetchOptions options = FetchOptions.DEFAULT.withDeadline(Duration.ofMinutes(10));
            fetch = Transfer.fetch(fetched, setup.root(), List.copyOf(names.keySet()), options, progress);
        } catch (InterruptedException e) {
            throw new CommandFailure("demo-transfer interrupted", Failures.INTERRUPTED, e);
        } catch (FetchException e) {
            throw new CommandFailure("demo-transfer: fetch failed: " + e.getMessage(), e);
        }
        Path output = dir.resolve("output");
        Duration writeTime = Transfer.write(fetch.manifest(), fetched, output, progress);
        return new Download(fetch, names, corrupt, output, writeTime);
    }

    /** The demo's result on standard output: sizes, throughput, and what each source did. */
    private void report(Setup setup, Download d, String compareTime) {
        PrintWriter out = spec.commandLine().getOut();
        FetchResult fetch = d.fetch();
        out.println(String.format(Locale.ROOT, "demo-transfer: %s in %d files, %d chunks, root %s", Sizes.mib(size),
                setup.files(), setup.chunks(), setup.root()));
        out.println(String.format(Locale.ROOT,
                "fetched %s from 3 sources in %s: %.1f MiB/s, every chunk verified; wrote the files in %s, compared them in %s",
                Sizes.mib(fetch.bytesFetched()), Durations.format(fetch.elapsed()), Sizes.toMib(fetch.bytesPerSecond()),
                Durations.format(d.writeTime()), compareTime));
        boolean cBanned = false;
        for (SourceStats s : fetch.sources()) {
            String name = d.names().getOrDefault(s.source(), "?");
            out.println("  " + name + ": " + s.summary());
            cBanned |= s.source().equals(d.corrupt()) && s.state() == SourceState.BANNED;
        }
        long cCorrupt = fetch.sources().stream().filter(s -> s.source().equals(d.corrupt()))
                .mapToLong(SourceStats::corrupt).sum();
        out.println(cBanned ? "source C was banned after " + cCorrupt + " corrupt chunks; no corrupt byte was kept"
                : cCorrupt > 0 ? "source C served " + cCorrupt + " corrupt chunk(s), each fetched again from another "
                        + "source; after that it was asked only for chunks no other source could give; no corrupt "
                        + "byte was kept"
                : "source C was never asked for one of its " + setup.corrupted() + " corrupt chunks");
        out.flush();
    }

    private static String since(long startNanos) {
        return Durations.format(Duration.ofNanos(System.nanoTime() - startNanos));
    }

    private static void say(PrintWriter err, String line) {
        err.println(line);
        err.flush();
    }
}
