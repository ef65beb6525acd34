package io.statesync.core.files;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileTreesTest {
    @TempDir
    Path tmp;

    @Test
    void deletesTheWholeTreeTwiceWithoutComplaintAndNeverFollowsALink() throws Exception {
        // Given a tree with nested files, and a link inside it to a directory outside it
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("keep.txt"), "kept");
        Path root = Files.createDirectories(tmp.resolve("root/a/b"));
        Files.writeString(root.resolve("f.txt"), "x");
        Files.createSymbolicLink(tmp.resolve("root/link"), outside);

        // When it is deleted, then deleted again
        FileTrees.deleteRecursively(tmp.resolve("root"));
        FileTrees.deleteRecursively(tmp.resolve("root"));

        // Then it is gone, and what the link pointed at is untouched
        assertFalse(Files.exists(tmp.resolve("root")));
        assertTrue(Files.exists(outside.resolve("keep.txt")));
    }
}
