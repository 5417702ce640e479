package org.neuronscope.experiments;

import org.neuronscope.FormatException;
import org.neuronscope.eval.Dataset;
import org.neuronscope.eval.Sample;

import java.util.function.Supplier;

/** Puts the sample (its id and the dataset file) in front of an error about one sample's prompt or media. */
final class SampleErrors {
    private SampleErrors() {
    }

    static <T> T naming(Sample s, Dataset data, Supplier<T> work) {
        try {
            return work.get();
        } catch (FormatException e) {
            throw new FormatException(where(s, data) + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where(s, data) + e.getMessage(), e);
        }
    }

    static String where(Sample s, Dataset data) {
        if (data == null) {
            return "sample '" + s.id() + "': ";
        }
        return "sample '" + s.id() + "' of " + (data.path() != null ? data.path() : "dataset " + data.name()) + ": ";
    }
}
