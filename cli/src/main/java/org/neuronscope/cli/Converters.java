package org.neuronscope.cli;

import org.neuronscope.HookPoint;
import org.neuronscope.experiments.InterventionOptions;
import org.neuronscope.methods.Intervention;
import org.neuronscope.stats.Statistic;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/** picocli converters for the library's value types; their messages name the accepted values. */
final class Converters {
    private Converters() {
    }

    static HookPoint hookPoint(String text) {
        try {
            return HookPoint.parse(text);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    /** The statistics a collection can be asked for (WEIGHTED_SUM is internal to MINER's collector). */
    static Statistic statistic(String text) {
        try {
            Statistic s = Statistic.valueOf(text.strip().toUpperCase(Locale.ROOT));
            if (s != Statistic.WEIGHTED_SUM) {
                return s;
            }
        } catch (IllegalArgumentException e) {
            // reported below with the accepted names
        }
        throw new TypeConversionException("unknown statistic '" + text + "' (count, count_abs, sum, sum_sq, sum_abs, max, min)");
    }

    /**
     * An intervention: deactivate, set:&lt;c&gt;, scale:&lt;s&gt;, minimum, complementary[:&lt;intervention&gt;].
     * A bare {@code set} or {@code scale} takes its number from {@code --value}.
     */
    static Intervention intervention(String text) {
        try {
            return InterventionOptions.parseMode(text); // ablate's --mode, read by the same rules
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }
}
