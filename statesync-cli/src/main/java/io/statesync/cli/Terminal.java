package io.statesync.cli;

import java.io.Console;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/** Whether a person is watching: decides between a progress bar and periodic progress lines. */
final class Terminal {
    private Terminal() {
    }

    /**
     * True if the process runs on an interactive terminal. Until JDK 21 a console exists only
     * then; from JDK 22 {@code System.console()} may return a console for redirected streams
     * too, and {@code Console.isTerminal()} (looked up reflectively, as we compile for 21)
     * tells them apart.
     */
    static boolean isInteractive() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        Method isTerminal;
        try {
            isTerminal = Console.class.getMethod("isTerminal");
        } catch (NoSuchMethodException jdk21) {
            return true;
        }
        try {
            return (Boolean) isTerminal.invoke(console);
        } catch (IllegalAccessException | InvocationTargetException e) {
            // Cannot tell: periodic lines are readable everywhere, a bar only on a terminal.
            return false;
        }
    }
}
