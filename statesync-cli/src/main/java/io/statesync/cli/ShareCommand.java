package io.statesync.cli;

import io.statesync.core.units.Durations;
import io.statesync.core.units.Sizes;
import io.statesync.core.chunking.Chunking;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code statesync share}: imports files or a directory tree into a store as one snapshot and
 * prints its root CID as the last line on standard output, so scripts can take it with
 * {@code tail -n1}.
 */
@Command(name = "share", mixinStandardHelpOptions = true,
        description = {"Imports files or a directory tree into a store as one snapshot.",
                "Prints the snapshot's root CID as the last line on standard output."})
final class ShareCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--store", paramLabel = "DIR", required = true,
            description = "store to import into; created if missing")
    private Path store;

    @Option(names = "--chunk-size", paramLabel = "SIZE", converter = Converters.Size.class,
            description = "with --chunking=fixed the chunk size, at most 1MiB (default: 1MiB); with cdc the average,"
                    + " a power of two from 1KiB to 256KiB (default: 64KiB)")
    private Long chunkSize;

    @Option(names = "--chunking", paramLabel = "cdc|fixed", defaultValue = "cdc",
            description = "cdc: content-defined chunks (an insertion changes only nearby chunks, so a new version"
                    + " shares most chunks with the old one); fixed: equal-size chunks (default: ${DEFAULT-VALUE})")
    private String chunkingName;

    @Option(names = "--meta", paramLabel = "KEY=VALUE",
            description = "metadata recorded in the manifest (height, block id, ...); repeatable")
    private Map<String, String> metadata = new TreeMap<>();

    @Parameters(paramLabel = "PATH", arity = "1..*",
            description = "files or directories; a single directory is shared as the snapshot's root")
    private List<Path> paths;

    @Override
    public Integer call() throws Exception {
        Chunking chunking = checkedChunking();
        Path storeRoot = store.toAbsolutePath().normalize();
        for (Path p : paths) {
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new ParameterException(spec.commandLine(), "no such file or directory: " + p);
            }
            Path abs = p.toAbsolutePath().normalize();
            if (Files.isDirectory(abs) && storeRoot.startsWith(abs)) {
                // The walk would pick up the store's own blobs while the import adds to them.
                throw new ParameterException(spec.commandLine(),
                        "the store " + store + " must not be inside the shared directory " + p);
            }
        }
        long started = System.nanoTime();
        ContentStore cs = Directories.openStore(store);
        SnapshotRef ref = SnapshotImporter.importPaths(cs, paths, chunking, metadata);
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        Manifest m = ref.manifest();
        PrintWriter err = spec.commandLine().getErr();
        err.println(String.format(Locale.ROOT, "shared %s, %s in %s into %s in %s", Sizes.count(m.files().size(), "file"),
                Sizes.mib(m.totalBytes()), Sizes.count(m.chunkCount(), "chunk"), cs.root(), Durations.format(took)));
        err.flush();
        PrintWriter out = spec.commandLine().getOut();
        out.println(ref.root());
        out.flush();
        return Failures.OK;
    }

    private Chunking checkedChunking() {
        switch (chunkingName) {
            case "fixed" -> {
                return new Chunking.Fixed(checkedChunkSize());
            }
            case "cdc" -> {
                if (chunkSize == null) {
                    return Chunking.DEFAULT;
                }
                if (chunkSize < 1024 || chunkSize > 256 * 1024 || Long.bitCount(chunkSize) != 1) {
                    throw new ParameterException(spec.commandLine(), "with --chunking=cdc, --chunk-size is the average"
                            + " chunk size: a power of two from 1KiB to 256KiB (chunks reach 4 times it), got " + chunkSize);
                }
                return Chunking.ContentDefined.ofAverage(chunkSize.intValue());
            }
            default -> throw new ParameterException(spec.commandLine(), "--chunking must be cdc or fixed, got " + chunkingName);
        }
    }

    private int checkedChunkSize() {
        if (chunkSize == null) {
            return SnapshotImporter.DEFAULT_CHUNK_SIZE;
        }
        int max = ManifestLimits.DEFAULT.maxChunkSize();
        if (chunkSize < 1 || chunkSize > max) {
            throw new ParameterException(spec.commandLine(), "--chunk-size must be between 1 byte and "
                    + Sizes.mib(max) + " (larger chunks are not valid IPFS blocks), got " + chunkSize);
        }
        return chunkSize.intValue();
    }
}
