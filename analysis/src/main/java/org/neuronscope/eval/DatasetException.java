package org.neuronscope.eval;

import org.neuronscope.NeuronScopeException;

import java.nio.file.Path;
import java.util.List;

/**
 * A dataset file that cannot be read or is invalid. The message lists every problem found (up to a
 * limit), each as {@code file:line: problem}; {@link #problems()} has them one by one.
 */
public class DatasetException extends NeuronScopeException {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final int line;
    @SuppressWarnings("serial") // an immutable List.copyOf, serializable
    private final List<String> problems;

    /**
     * @param file     the dataset file (null for a dataset built in memory)
     * @param line     1-based line of the first problem, 0 if not tied to a line
     * @param problems the problems, each already prefixed with its file and line
     */
    public DatasetException(Path file, int line, List<String> problems, Throwable cause) {
        this(file, line, problems, problems.size(), cause);
    }

    /** As above, where {@code problems} lists only the first {@code total} problems (and a note). */
    DatasetException(Path file, int line, List<String> problems, int total, Throwable cause) {
        super(message(problems, total), cause);
        this.file = file;
        this.line = line;
        this.problems = List.copyOf(problems);
    }

    public DatasetException(Path file, int line, String problem) {
        this(file, line, List.of(problem), null);
    }

    /** The dataset file, or null. */
    public Path file() {
        return file;
    }

    /** The 1-based line of the first problem, or 0. */
    public int line() {
        return line;
    }

    /** The problems, each "file:line: what"; past a limit, the last entry counts the ones left out. */
    public List<String> problems() {
        return problems;
    }

    private static String message(List<String> problems, int total) {
        if (problems.size() == 1) {
            return problems.get(0);
        }
        return total + " problems:\n  " + String.join("\n  ", problems);
    }
}
