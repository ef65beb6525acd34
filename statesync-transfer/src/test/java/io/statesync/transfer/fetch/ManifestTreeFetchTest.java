package io.statesync.transfer.fetch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.statesync.core.cid.Cid;
import io.statesync.core.cid.Codec;
import io.statesync.core.snapshot.FileEntry;
import io.statesync.core.snapshot.Manifest;
import io.statesync.core.snapshot.ManifestBlocks;
import io.statesync.core.snapshot.ManifestLimits;
import io.statesync.core.snapshot.SnapshotImporter;
import io.statesync.core.snapshot.SnapshotRef;
import io.statesync.core.store.ContentStore;
import io.statesync.core.testing.Ports;
import io.statesync.transfer.server.FileShareServer;
import io.statesync.transfer.server.ServerConfig;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot whose manifest is over 1 MiB (so stored as parts under a small root) fetched from
 * our own file share and from nginx serving the store directory as plain files: every block
 * either one serves is a valid IPFS block.
 */
@Timeout(180)
class ManifestTreeFetchTest {
    @TempDir
    Path tmp;
    private ContentStore origin;
    private SnapshotRef snapshot;
    private byte[] chunk;

    @BeforeEach
    void share() throws Exception {
        origin = ContentStore.open(tmp.resolve("origin"));
        chunk = new byte[64];
        for (int i = 0; i < chunk.length; i++) {
            chunk[i] = (byte) (i * 7);
        }
        Cid c = origin.put(Codec.RAW, chunk);
        // 30 000 references to one 64-byte chunk: a 2 MiB manifest over a single blob.
        Manifest m = new Manifest(Manifest.VERSION, 64, Map.of("test", "tree"),
                List.of(new FileEntry("big.bin", 64L * 30_000, 0644, Collections.nCopies(30_000, c))));
        snapshot = SnapshotImporter.storeManifest(origin, m);
        var split = ManifestBlocks.decodeRoot(origin.readAll(snapshot.root()), ManifestLimits.DEFAULT);
        assertTrue(split instanceof ManifestBlocks.Split s && s.parts().size() >= 2, "the manifest is stored as parts");
    }

    @Test
    void aManifestOfSeveralBlocksLoadsFromOurFileShare() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (FileShareServer server = FileShareServer.start(ServerConfig.loopback(), origin, registry)) {
            fetchAndCheck(new Source(server.uri()));
        } finally {
            registry.close();
        }
    }

    @Test
    void aManifestOfSeveralBlocksLoadsFromNginx() throws Exception {
        String nginx = Nginx.binary();
        int port = Ports.free();
        Path conf = tmp.resolve("nginx.conf");
        Files.writeString(conf, "daemon off; worker_processes 1; pid " + tmp.resolve("nginx.pid") + "; error_log "
                + tmp.resolve("nginx.err") + ";" + (Nginx.root() ? " user root;" : "")
                + " events {} http { access_log off; server { listen 127.0.0.1:" + port + "; root " + origin.root() + "; } }");
        Process p = new ProcessBuilder(nginx, "-c", conf.toString(), "-p", tmp.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("nginx.out").toFile()).start();
        try {
            awaitPort(port, p);
            fetchAndCheck(new Source(URI.create("http://127.0.0.1:" + port)));
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }

    private void fetchAndCheck(Source source) throws Exception {
        ContentStore local = ContentStore.open(tmp.resolve("local-" + System.nanoTime()));
        Path out = tmp.resolve("out-" + System.nanoTime());
        try (SnapshotFetcher f = new SnapshotFetcher(local, new SimpleMeterRegistry())) {
            FetchResult r = f.fetchInto(snapshot.root(), SourceResolver.of(List.of(source)), out,
                    FetchOptions.DEFAULT.withMaxExpansion(0), null); // one chunk repeated on purpose: no expansion bound
            assertEquals(snapshot.manifest(), r.manifest());
        }
        byte[] got = Files.readAllBytes(out.resolve("big.bin"));
        assertEquals(64 * 30_000, got.length);
        for (int off = 0; off < got.length; off += 64) {
            assertArrayEquals(chunk, java.util.Arrays.copyOfRange(got, off, off + 64));
        }
        // The root and its parts are kept, so the snapshot can be served on from this store.
        assertEquals(snapshot.manifest(), SnapshotImporter.loadManifest(local, snapshot.root(), ManifestLimits.DEFAULT));
    }

    private static void awaitPort(int port, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("nginx exited with " + p.exitValue());
            }
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new AssertionError("nginx did not listen on " + port + " within 20 s");
    }

    /** Finds nginx, installing it with apt-get when it is missing and we may; else the test is skipped with the reason. */
    static final class Nginx {
        static String binary() throws Exception {
            for (String candidate : List.of("/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx")) {
                if (Files.isExecutable(Path.of(candidate))) {
                    return candidate;
                }
            }
            if (!root() || !Files.isExecutable(Path.of("/usr/bin/apt-get"))) {
                Assumptions.abort("nginx is not installed and cannot be installed here (needs root and apt-get)");
            }
            Process install = new ProcessBuilder("bash", "-c",
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light || "
                            + "(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light)")
                    .redirectErrorStream(true).start();
            String output = new String(install.getInputStream().readAllBytes());
            boolean done = install.waitFor(150, TimeUnit.SECONDS);
            if (!done || install.exitValue() != 0 || !Files.isExecutable(Path.of("/usr/sbin/nginx"))) {
                install.destroyForcibly();
                Assumptions.abort("nginx is not installed and apt-get could not install it: "
                        + output.lines().reduce((a, b) -> b).orElse("no output"));
            }
            return "/usr/sbin/nginx";
        }

        static boolean root() {
            return "root".equals(System.getProperty("user.name"));
        }
    }
}
