package io.statesync.cli;

import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.Materializer;
import io.statesync.core.store.ContentStore;
import io.statesync.core.units.Sizes;
import io.statesync.transfer.fetch.FetchException;
import io.statesync.transfer.fetch.FetchOptions;
import io.statesync.transfer.fetch.FetchResult;
import io.statesync.transfer.fetch.Source;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import io.statesync.transfer.tls.Tls;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code statesync fetch}: downloads a snapshot from many sources at once straight into its
 * files under the output directory, verifying every chunk before it is written (once). A rerun
 * resumes from the output directory's journal; files already there (an older version) and the
 * store lend the chunks they hold, so only the difference is downloaded.
 */
@Command(name = "fetch", mixinStandardHelpOptions = true,
        description = {"Fetches a snapshot from one or more sources, verifying every chunk, and writes its files.",
                "Rerun after an interruption, it resumes; chunks the output directory or the store already hold are not fetched."})
final class FetchCommand implements Callable<Integer> {
    // Defaults are FetchOptions.DEFAULT's values, spelt for the help text; FetchCommandTest checks they agree.
    static final String DEFAULT_MAX_TRIES = "5";
    static final String DEFAULT_RETRY_WAIT = "500ms";
    static final String DEFAULT_DEADLINE = "1h";
    static final String DEFAULT_CHUNK_DEADLINE = "30s";
    static final String DEFAULT_PARALLEL = "16";
    static final String DEFAULT_PER_SOURCE = "6";
    static final String DEFAULT_SYNC_EVERY = "128MiB";
    static final String DEFAULT_MAX_EXPANSION = "100";

    private final Environment env;

    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CID", description = "root CID of the snapshot (the CID share printed)")
    private Cid root;

    @Option(names = "--source", paramLabel = "URL", required = true, split = ",",
            description = "a file share or any server of <URL>/ipfs/<cid>; repeatable or comma-separated")
    private List<Source> sources;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "directory to write the files into")
    private Path out;

    @Option(names = "--store", paramLabel = "DIR",
            description = "store for verified chunks (default: $STATESYNC_HOME/store, STATESYNC_HOME defaulting to ~/.statesync)")
    private Path store;

    @Option(names = "--max-tries", paramLabel = "N", defaultValue = DEFAULT_MAX_TRIES,
            description = "attempts per chunk over all sources (default: ${DEFAULT-VALUE})")
    private int maxTries;

    @Option(names = "--retry-wait", paramLabel = "DURATION", defaultValue = DEFAULT_RETRY_WAIT,
            description = "pause before a failed chunk is retried, doubling per failure (default: ${DEFAULT-VALUE})")
    private Duration retryWait;

    @Option(names = "--deadline", paramLabel = "DURATION", defaultValue = DEFAULT_DEADLINE,
            description = "time limit for the whole fetch, e.g. 90s, 10m, 1h (default: ${DEFAULT-VALUE})")
    private Duration deadline;

    @Option(names = "--chunk-deadline", paramLabel = "DURATION", defaultValue = DEFAULT_CHUNK_DEADLINE,
            description = "time limit for one chunk request; catches stalled sources (default: ${DEFAULT-VALUE})")
    private Duration chunkDeadline;

    @Option(names = "--parallel", paramLabel = "N", defaultValue = DEFAULT_PARALLEL,
            description = "chunk requests in flight over all sources (default: ${DEFAULT-VALUE})")
    private int parallel;

    @Option(names = "--per-source", paramLabel = "N", defaultValue = DEFAULT_PER_SOURCE,
            description = "chunk requests in flight to any one source (default: ${DEFAULT-VALUE})")
    private int perSource;

    @Option(names = "--sync-every", paramLabel = "SIZE", defaultValue = DEFAULT_SYNC_EVERY, converter = Converters.Size.class,
            description = "bytes written between fsyncs of the output files; a crash re-checks at most this much (default: ${DEFAULT-VALUE})")
    private long syncEvery;

    @Option(names = "--max-expansion", paramLabel = "N", defaultValue = DEFAULT_MAX_EXPANSION,
            description = "refuse a snapshot whose files are more than N times the bytes of its distinct chunks;"
                    + " 0 for no bound (default: ${DEFAULT-VALUE})")
    private int maxExpansion;

    @Mixin
    private TlsOptions tls;

    FetchCommand(Environment env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        long started = System.nanoTime(); // --deadline covers the whole command, preparation included
        FetchOptions options = options();
        Tls clientTls = tls.client();
        if (clientTls != null && sources.stream().noneMatch(s -> s.base().getScheme().equals("https"))) {
            throw new ParameterException(spec.commandLine(), "--ca-file, --cert and --key are for https:// sources;"
                    + " every --source is http://");
        }
        if (root.codec() != Codec.DAG_JSON) {
            throw new ParameterException(spec.commandLine(), root + " is the CID of a raw block, not of a snapshot"
                    + " (snapshot CIDs are dag-json and start with bagu)");
        }
        Path storeDir = store != null ? store : env.defaultStore();
        Path outAbs = out.toAbsolutePath().normalize();
        if (outAbs.startsWith(storeDir.toAbsolutePath().normalize())) {
            throw new ParameterException(spec.commandLine(), "--out " + out + " must not be inside the store " + storeDir);
        }
        if (storeDir.toAbsolutePath().normalize().startsWith(outAbs)) {
            throw new ParameterException(spec.commandLine(), "the store " + storeDir + " must not be inside --out " + out
                    + " (the snapshot's files could overwrite its blobs); pass --store elsewhere");
        }
        List<Source> distinct = new ArrayList<>(new LinkedHashSet<>(sources));

        Directories.prepareWritable(out, "output directory");
        Directories.prepareWritable(storeDir, "store");
        var err = spec.commandLine().getErr();
        removeLeftovers(err);
        // Opening the store removes the temp files of a killed earlier run from its tmp/ too.
        ContentStore cs = Directories.openStore(storeDir);
        ProgressReporter progress = ProgressReporter.forEnvironment(env, err);
        try {
            FetchResult result = Transfer.fetchInto(cs, root, distinct, out, options, progress, clientTls, started);
            Transfer.printFetchSummary(result, err);
            Transfer.printWriteSummary(result.manifest(), out, result.elapsed(), err);
            return Failures.OK;
        } catch (InterruptedException e) {
            throw interrupted(e);
        }
    }

    /**
     * A run killed while writing files leaves its temp files beside their targets in the output
     * directory; no later run would rename them, so this one removes them before it starts. Only
     * the materializer's own temp names are touched, and only ones no live run holds.
     */
    private void removeLeftovers(java.io.PrintWriter err) throws CommandFailure {
        try {
            int removed = Materializer.removeLeftovers(out);
            if (removed > 0) {
                err.println("removed " + Sizes.count(removed, "temp file") + " left in " + out + " by an interrupted run");
                err.flush();
            }
        } catch (IOException e) {
            throw new CommandFailure("cannot clean up the output directory " + out + ": " + Failures.reason(e), e);
        }
    }

    private static CommandFailure interrupted(Exception e) {
        return new CommandFailure("fetch interrupted; run the same command again to resume", Failures.INTERRUPTED, e);
    }

    /** The options as the fetcher takes them; a value it refuses is a usage error. */
    private FetchOptions options() {
        try {
            return FetchOptions.DEFAULT.withMaxTries(maxTries).withRetryWait(retryWait).withDeadline(deadline)
                    .withChunkDeadline(chunkDeadline).withParallelism(parallel).withPerSourceParallelism(perSource)
                    .withSyncEvery(syncEvery).withMaxExpansion(maxExpansion);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
