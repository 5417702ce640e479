package org.neuronscope.cli;

import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.DatasetException;
import org.neuronscope.methods.Intervention;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;

/**
 * {@code neuronscope stats|select|ablate|demo}: the experiments of the library from a shell, one
 * class per command. Every command takes its model, projector and dataset by path and prints where
 * its results went. Options are typed: picocli converts hook points, statistics, interventions and
 * enums, so a bad value is reported before anything is loaded.
 */
@Command(name = "neuronscope", mixinStandardHelpOptions = true, version = "neuronscope 0.1.0",
        description = "Find, switch off and measure modality-, domain- and language-specific neurons of GGUF models.",
        subcommands = {StatsCommand.class, SelectCommand.class, AblateCommand.class, DemoCommand.class})
public final class NeuronScopeCli implements Callable<Integer> {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code. */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs the command line with picocli's usage and error messages going to {@code out} and {@code err}. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new NeuronScopeCli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.registerConverter(HookPoint.class, Converters::hookPoint);
        cl.registerConverter(Statistic.class, Converters::statistic);
        cl.registerConverter(Intervention.class, Converters::intervention);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // what a user can fix (bad input, missing file, unsupported model) is a message, not a stack trace
            if (e instanceof NeuronScopeException || e instanceof DatasetException || e instanceof IllegalArgumentException
                    || e instanceof IllegalStateException || e instanceof IndexOutOfBoundsException || e instanceof UncheckedIOException
                    || e instanceof java.io.IOException) {
                // an I/O failure (full disk, read-only directory) names the file and the system's reason
                cmd.getErr().println("error: " + (e instanceof java.io.IOException || e instanceof UncheckedIOException
                        ? CliSupport.describe(e) : e.getMessage()));
                return CommandLine.ExitCode.USAGE;
            }
            throw e;
        });
        return cl.execute(args);
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }
}
