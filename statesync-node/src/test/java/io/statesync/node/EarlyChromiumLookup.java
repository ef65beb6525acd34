package io.statesync.node;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Starts looking for (and if need be installing) Chromium as soon as this module's test run
 * begins, so that an install overlaps the cluster tests instead of adding to the run's length.
 * Registered in {@code META-INF/services}.
 */
public final class EarlyChromiumLookup implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        Chromium.lookup();
    }
}
