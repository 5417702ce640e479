package org.neuronscope.experiments;

import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.methods.NeuronSet;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * How {@code ablate} intervenes (a picocli mixin): {@code --mode}, {@code --value} and {@code --stats}.
 * The command line's {@code ablate} and its Spark entry point share it, so that both read these
 * options by the same rules and refuse them with the same messages (usage errors of the command
 * they are mixed into).
 */
public final class InterventionOptions {
    @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
    CommandLine.Model.CommandSpec command;
    @Option(names = "--mode", defaultValue = "deactivate", converter = ModeConverter.class,
            description = "deactivate, set[:c], scale[:s], complementary[:<mode>], minimum (each layer's smallest activation observed in "
                    + "--stats, one value per layer), or minimum:call (MINER's code: the smallest value of the layer's whole activation tensor "
                    + "in each call, computed in the graph at every decode; complementary:minimum:call sets every other neuron to it) "
                    + "(default: ${DEFAULT-VALUE})")
    Intervention mode;
    @Option(names = "--stats", description = "minimum: statistics directory with MIN (written by 'neuronscope stats')")
    Path stats;
    @Option(names = "--value", description = "the value of a bare --mode set or scale")
    Float value;

    /**
     * {@code --mode} as typed: deactivate, set:c, scale:s, minimum, minimum:call, complementary[:&lt;mode&gt;]. A bare
     * {@code set} reads as {@code set:0} and a bare {@code scale} as {@code scale:1} until
     * {@code --value} gives their number.
     *
     * @throws IllegalArgumentException naming the modes there are
     */
    public static Intervention parseMode(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        try {
            return switch (t) {
                case "set" -> new Intervention.SetTo(0f);
                case "scale" -> new Intervention.Scale(1f);
                default -> Intervention.parse(t);
            };
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--mode must be deactivate, set[:c], scale[:s], minimum, minimum:call, complementary or "
                    + "complementary:<mode> (" + e.getMessage() + ")", e);
        }
    }

    /** {@link #parseMode} as picocli's converter: a bad mode is refused while the command line is parsed. */
    public static final class ModeConverter implements CommandLine.ITypeConverter<Intervention> {
        @Override
        public Intervention convert(String text) {
            try {
                return parseMode(text);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** {@code --mode} as parsed (a bare set or scale without its {@code --value}). */
    public Intervention mode() {
        return mode;
    }

    /** {@code --stats}, or null. */
    public Path stats() {
        return stats;
    }

    /** {@code --value}, or null. */
    public Float value() {
        return value;
    }

    /** {@code --mode} as the user typed it (for messages), or the default's name. */
    public String modeText() {
        CommandLine.ParseResult parsed = command == null ? null : command.commandLine().getParseResult();
        var matched = parsed == null ? null : parsed.matchedOption("--mode");
        return matched == null ? String.valueOf(mode) : matched.stringValues().getFirst();
    }

    /**
     * {@code --mode} with {@code --value}'s number: a bare {@code set} or {@code scale} takes it
     * (a bare set without it is set:0; a bare scale needs it); a mode that carries its own number
     * (set:c, scale:s) or has none (deactivate, minimum, complementary) refuses it.
     */
    public Intervention withValue() {
        String typed = modeText().strip().toLowerCase(Locale.ROOT);
        boolean bare = typed.equals("set") || typed.equals("scale");
        if (value == null) {
            if (typed.equals("scale")) {
                throw usage("--mode scale needs --value <factor> (or write scale:<factor>)");
            }
            return mode; // a bare set is set:0
        }
        if (bare) {
            return mode instanceof Intervention.SetTo ? new Intervention.SetTo(value) : new Intervention.Scale(value);
        }
        if (mode instanceof Intervention.SetTo || mode instanceof Intervention.Scale) {
            // set:2 --value 3 would silently take one of the two numbers
            throw usage("--value applies to a bare --mode set or scale; --mode " + modeText() + " gives its own value");
        }
        throw usage("--value applies to --mode set and scale, not " + mode);
    }

    /**
     * The intervention for {@code sets} (named in messages by {@code files}, in the same order):
     * {@link #withValue()}, and for {@code minimum} the language model's per-layer minima from the
     * statistics directory {@code --stats} names (a {@code stats} output directory or its
     * {@code statistics/}), which must hold MIN.
     *
     * @throws CommandLine.ParameterException minimum without --stats, or with a set of an encoder (whose statistics have no MIN)
     * @throws IllegalArgumentException       statistics without MIN
     * @throws IOException                    the statistics cannot be read
     */
    public Intervention intervention(List<NeuronSet> sets, List<Path> files) throws IOException {
        Intervention i = withValue();
        if (i.usesCallMinimum()) {
            for (int k = 0; k < sets.size(); k++) {
                if (sets.get(k).module().isEncoder()) {
                    throw usage("--mode " + modeText() + " is built for the language model's hooks; " + files.get(k) + " holds "
                            + sets.get(k).qualifiedPoint() + " neurons (an encoder's: deactivate, set, scale or complementary)");
                }
            }
        }
        if (!i.needsMinima()) {
            return i;
        }
        if (stats == null) {
            throw usage("--mode " + modeText() + " needs --stats <directory written by 'neuronscope stats'>");
        }
        for (int k = 0; k < sets.size(); k++) {
            if (sets.get(k).module().isEncoder()) {
                throw usage("--mode " + modeText() + " takes the language model's per-layer minima; " + files.get(k) + " holds "
                        + sets.get(k).qualifiedPoint() + " neurons (encoder statistics have no MIN)");
            }
        }
        Path dir = StatsExperiment.statisticsDirOf(stats);
        try (NeuronStatistics observed = NeuronStatistics.load(dir)) {
            if (!observed.has(Statistic.MIN)) {
                throw new IllegalArgumentException(dir + " holds no MIN statistic");
            }
            return i.withMinima(InterventionMask.layerMinima(observed));
        }
    }

    private CommandLine.ParameterException usage(String message) {
        if (command == null) {
            throw new IllegalStateException("InterventionOptions is a picocli mixin; it has no command here: " + message);
        }
        return new CommandLine.ParameterException(command.commandLine(), message);
    }
}
