package org.neuronscope.cli;

import org.neuronscope.HookPoint;
import org.neuronscope.NeuronScopeException;
import org.neuronscope.eval.DatasetException;
import org.neuronscope.methods.Intervention;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import org.neuronscope.eval.Levenshtein;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code neuronscope stats|select|ablate|export|unlearn|lens|probe|demo}: the experiments of the library from a shell, one
 * class per command. Every command takes its model, projector and dataset by path and prints where
 * its results went. Options are typed: picocli converts hook points, statistics, interventions and
 * enums, so a bad value is reported before anything is loaded.
 */
@Command(name = "neuronscope", mixinStandardHelpOptions = true, version = "neuronscope 0.1.0",
        description = "Find, switch off and measure modality-, domain- and language-specific neurons of GGUF models.",
        subcommands = {StatsCommand.class, SelectCommand.class, AblateCommand.class, ExportCommand.class, UnlearnCommand.class, LensCommand.class,
                ProbeCommand.class, ConvertBertCommand.class, DemoCommand.class, SynthCommand.class})
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
        CommandLine.IParameterExceptionHandler parameterErrors = cl.getParameterExceptionHandler();
        cl.setParameterExceptionHandler((e, arguments) -> {
            // an unknown option (a typo) is the error to report, not the required option it leaves missing
            List<String> unknown = unknownOptions(e);
            if (unknown.isEmpty()) {
                return parameterErrors.handleParseException(e, arguments);
            }
            CommandLine cmd = e.getCommandLine();
            for (String u : unknown) {
                String nearest = nearestOption(cmd.getCommandSpec(), u);
                cmd.getErr().println("error: unknown option '" + u + "'" + (nearest != null ? "; did you mean " + nearest + "?" : ""));
            }
            cmd.getErr().println("see: neuronscope " + (cmd.getParent() != null ? cmd.getCommandName() + " " : "") + "--help");
            return CommandLine.ExitCode.USAGE;
        });
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            CliSupport.endLine(cmd.getErr()); // the error on its own line, not after a progress bar
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

    /** The options among the arguments picocli could not match (after the command's own name). */
    static List<String> unknownOptions(CommandLine.ParameterException e) {
        List<String> unmatched = e instanceof CommandLine.UnmatchedArgumentException u ? u.getUnmatched()
                : e.getCommandLine().getParseResult() != null ? e.getCommandLine().getParseResult().unmatched() : List.of();
        List<String> options = new ArrayList<>();
        for (String a : unmatched) {
            if (a.startsWith("-") && a.length() > 1 && !a.matches("-\\d.*")) {
                int eq = a.indexOf('=');
                options.add(eq > 0 ? a.substring(0, eq) : a);
            }
        }
        return options;
    }

    /** The command's option name nearest to {@code typed} in edit distance, if near enough to be a typo. */
    static String nearestOption(CommandLine.Model.CommandSpec spec, String typed) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (CommandLine.Model.OptionSpec o : spec.options()) {
            for (String name : o.names()) {
                int d = Levenshtein.distance(typed, name);
                if (d < bestDistance) {
                    best = name;
                    bestDistance = d;
                }
            }
        }
        return best != null && bestDistance <= Math.max(2, typed.length() / 3) ? best : null;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }
}
