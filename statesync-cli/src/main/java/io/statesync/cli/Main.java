package io.statesync.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code statesync} command. Every failure ends in one line on standard error, prefixed
 * {@code statesync: }, and an exit code: 2 for a wrong command line, 1 for a command that ran
 * and failed, 130 when interrupted. Stack traces are for bugs, and only on request
 * ({@code STATESYNC_DEBUG=1}).
 */
@Command(name = "statesync", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Shares, serves and fetches snapshots of node state, verified by content address (CIDv1 sha2-256).",
        footer = {"", "Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.",
                "Environment: STATESYNC_HOME (default ~/.statesync) holds the default store, STATESYNC_HOME/store.",
                "STATESYNC_LOG_LEVELS=logger=level,... changes log levels (e.g. io.statesync=debug)."})
public final class Main implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    /** {@code LOGGER=LEVEL,...}: log levels over a command's quiet defaults. */
    static final String LOG_LEVELS_VARIABLE = "STATESYNC_LOG_LEVELS";

    private Main() {
    }

    public static void main(String[] args) {
        Environment env = Environment.system();
        String refused = configureCommandLogging(env);
        if (refused != null) {
            System.err.println(refused);
            System.exit(Failures.USAGE);
        }
        System.exit(execute(commandLine(env, null, null), env, args));
    }

    /**
     * Applies {@link #LOG_LEVELS_VARIABLE} over a command's quiet defaults, for a person chasing a
     * problem in a command (a node reads the same variable through its config). Returns the
     * one-line error for a bad value, or null.
     */
    static String configureCommandLogging(Environment env) {
        String levels = env.variables().get(LOG_LEVELS_VARIABLE);
        if (levels == null) {
            return null;
        }
        try {
            Map<String, String> merged = new LinkedHashMap<>(Logging.COMMAND_LEVELS);
            Logging.parseLevels(levels, merged);
            Logging.configure(Logging.Format.TEXT, merged);
            return null;
        } catch (IllegalArgumentException e) {
            return "statesync: " + LOG_LEVELS_VARIABLE + ": " + e.getMessage();
        }
    }

    /**
     * Runs {@code args} on {@code cmd} and returns the exit code. SIGINT and SIGTERM interrupt
     * the command, which then cleans up and reports before the process ends.
     */
    static int execute(CommandLine cmd, Environment env, String... args) {
        return StopOnShutdown.run(env.shutdownHooks(), () -> cmd.execute(args));
    }

    /**
     * The full command tree, ready to {@link CommandLine#execute}. Null writers keep picocli's
     * defaults (the process's standard streams); tests pass their own.
     */
    static CommandLine commandLine(Environment env, PrintWriter out, PrintWriter err) {
        CommandLine cmd = new CommandLine(new Main());
        cmd.addSubcommand(new ShareCommand());
        cmd.addSubcommand(new ServeCommand());
        cmd.addSubcommand(new FetchCommand(env));
        cmd.addSubcommand(new DemoTransferCommand(env));
        cmd.addSubcommand(new PeersCommand());
        cmd.addSubcommand(new NodeCommand(env));
        cmd.addSubcommand(new DemoCommand(env));
        cmd.addSubcommand(new SoakCommand());
        cmd.addSubcommand(new InitCommand());
        cmd.addSubcommand(new MembersCommand());
        cmd.addSubcommand(new SyncCommand());
        cmd.addSubcommand(new StatusCommand());
        cmd.addSubcommand(new WarmUpCommand(env));
        cmd.addSubcommand(new CommandLine.HelpCommand());
        // Set after the subcommands exist: picocli hands these settings down only to those present.
        Converters.registerAll(cmd);
        if (out != null) {
            cmd.setOut(out);
        }
        if (err != null) {
            cmd.setErr(err);
        }
        cmd.setParameterExceptionHandler(usageErrors());
        cmd.setExecutionExceptionHandler(failures(env));
        return cmd;
    }

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "missing command: one of share, serve, fetch, demo-transfer");
    }

    /** A wrong command line: one line naming the problem and where help is; exit 2. */
    private static IParameterExceptionHandler usageErrors() {
        return (ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            StringBuilder line = new StringBuilder("statesync: ").append(Failures.oneLine(ex.getMessage()));
            if (ex instanceof UnmatchedArgumentException u) {
                List<String> suggestions = u.getSuggestions();
                if (!suggestions.isEmpty()) {
                    line.append(" (did you mean ").append(String.join(" or ", suggestions)).append("?)");
                }
            }
            line.append(" (see '").append(cmd.getCommandSpec().qualifiedName()).append(" --help')");
            cmd.getErr().println(line);
            cmd.getErr().flush();
            return Failures.USAGE;
        };
    }

    /** A command that ran and failed: one line; exit 1, or 130 when interrupted. */
    private static IExecutionExceptionHandler failures(Environment env) {
        return (ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            err.println("statesync: " + Failures.describe(ex));
            if (env.debug()) {
                ex.printStackTrace(err);
            }
            err.flush();
            return Failures.exitCode(ex);
        };
    }

    /** The version the jar's manifest carries. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"statesync " + (v == null ? "(development build)" : v)};
        }
    }
}
