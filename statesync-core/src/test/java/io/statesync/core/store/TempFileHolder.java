package io.statesync.core.store;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A separate process for {@link TempFileTest}. {@code hold <dir>}: creates a temp file there as a
 * writer does, writes a few bytes, prints its path and waits (until killed, or its standard
 * input closes). {@code probe <path>}: prints whether another process holds the file's lock.
 */
public final class TempFileHolder {
    private TempFileHolder() {
    }

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[1]);
        if (args[0].equals("probe")) {
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                FileLock lock = ch.tryLock(0, Long.MAX_VALUE, true);
                System.out.println(lock == null ? "held" : "free");
            }
            return;
        }
        TempFile temp = TempFile.create(path, "other-process-", ".part");
        temp.channel().write(ByteBuffer.wrap("partial".getBytes(StandardCharsets.US_ASCII)));
        System.out.println(temp.path());
        System.out.flush();
        while (System.in.read() >= 0) {
            // Ends when the parent goes away; the test kills it first.
        }
    }
}
