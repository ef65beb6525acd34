package io.statesync.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvironmentTest {
    private static final Path HOME = Path.of("/home/alice");

    @Test
    void theDefaultStoreIsUnderStatesyncHome() {
        assertEquals(Path.of("/srv/sync/store"), env(Map.of("STATESYNC_HOME", "/srv/sync")).defaultStore());
    }

    @Test
    void statesyncHomeDefaultsToADotDirectoryInTheUsersHome() {
        assertEquals(HOME.resolve(".statesync/store"), env(Map.of()).defaultStore());
        assertEquals(HOME.resolve(".statesync/store"), env(Map.of("STATESYNC_HOME", " ")).defaultStore());
    }

    @Test
    void debugIsOnlyOnWhenAsked() {
        assertFalse(env(Map.of()).debug());
        assertFalse(env(Map.of("STATESYNC_DEBUG", "0")).debug());
        assertTrue(env(Map.of("STATESYNC_DEBUG", "1")).debug());
    }

    private static Environment env(Map<String, String> vars) {
        return new Environment(vars, HOME, false, new Cli.ManualShutdown());
    }
}
