package org.neuronscope.experiments;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.neuronscope.HookPoint;
import org.neuronscope.Module;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.NeuronSet;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ablate's --mode, --value and --stats (the mixin the command line and the Spark entry point share),
 * read in a command of their own: each rule, and each refusal as a usage error with its message.
 */
class InterventionOptionsTest {
    @CommandLine.Command(name = "probe")
    static final class Probe implements java.util.concurrent.Callable<Integer> {
        @CommandLine.Mixin
        InterventionOptions how = new InterventionOptions();
        List<NeuronSet> sets = List.of(new NeuronSet("test", HookPoint.FFN_ACT, 2, 8, Map.of()));
        Intervention got;

        @Override
        public Integer call() throws Exception {
            got = how.intervention(sets, List.of(Path.of("set.json")));
            return 0;
        }
    }

    /** The intervention the options give, or the usage error's message (prefixed "refused: "). */
    static String read(Probe p, String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(p);
        cl.setErr(new PrintWriter(err, true));
        int rc = cl.execute(args);
        if (rc != 0) {
            assertEquals(2, rc, err.toString());
            return "refused: " + err.toString().lines().findFirst().orElse("");
        }
        return String.valueOf(p.got);
    }

    static String read(String... args) {
        return read(new Probe(), args);
    }

    @Test
    void modeAndValueFollowAblatesRules() {
        assertEquals("deactivate", read());
        assertEquals(Intervention.deactivate().toString(), read("--mode", "DEACTIVATE"));
        assertEquals("set:0.0", read("--mode", "set"), "a bare set is set:0");
        assertEquals("set:2.5", read("--mode", "set", "--value", "2.5"));
        assertEquals("scale:3.0", read("--mode", "Scale", "--value", "3"));
        assertEquals("set:1.5", read("--mode", "set:1.5"));
        assertEquals("scale:0.5", read("--mode=scale:0.5"));
        assertEquals("refused: --mode scale needs --value <factor> (or write scale:<factor>)", read("--mode", "scale"));
        assertEquals("refused: --value applies to --mode set and scale, not deactivate", read("--value", "2"));
        assertEquals("refused: --value applies to a bare --mode set or scale; --mode scale:2 gives its own value",
                read("--mode", "scale:2", "--value", "3"));
        String halve = read("--mode", "halve"); // refused while parsing, naming the option and the modes there are
        assertTrue(halve.startsWith("refused: ") && halve.contains("'--mode'") && halve.contains("--mode must be deactivate, set[:c], "
                + "scale[:s], minimum, minimum:call, complementary or complementary:<mode> (unknown intervention 'halve'"), halve);
        assertEquals("refused: --mode MINIMUM needs --stats <directory written by 'neuronscope stats'>", read("--mode", "MINIMUM"));
        Probe encoder = new Probe();
        encoder.sets = List.of(new NeuronSet("test", Module.VISION, HookPoint.FFN_ACT, 2, 8, Map.of()));
        assertEquals("refused: --mode minimum takes the language model's per-layer minima; set.json holds vision.ffn.act neurons (encoder "
                + "statistics have no MIN)", read(encoder, "--mode", "minimum", "--stats", "anywhere"));
    }

    @Test
    void minimumReadsTheLayerMinimaOfTheStatisticsDirectory(@TempDir Path dir) throws Exception {
        // a stats output directory: --stats names it or its statistics/ (a directory without statistics/ stands for itself)
        Path stats = dir.resolve("stats");
        Path inner = Files.createDirectories(StatsExperiment.statisticsDir(stats));
        assertEquals(inner, StatsExperiment.statisticsDirOf(stats));
        assertEquals(inner, StatsExperiment.statisticsDirOf(inner));
        double[][][] counts = new double[2][1][8];
        try (var s = org.neuronscope.stats.NeuronStatistics.fromArrays(HookPoint.FFN_ACT, List.of("g"),
                Map.of(org.neuronscope.stats.Statistic.COUNT, counts), new long[] {3}, 0f, 0f)) {
            s.save(inner);
        }
        Probe noMin = new Probe();
        new CommandLine(noMin).parseArgs("--mode", "minimum", "--stats", stats.toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, noMin::call);
        assertEquals(inner + " holds no MIN statistic", e.getMessage());

        double[][][] min = new double[2][1][8];
        for (int l = 0; l < 2; l++) {
            for (int n = 0; n < 8; n++) {
                min[l][0][n] = 10 * l + (n - 3.5) * (n - 3.5); // layer l's smallest: 10 l + 0.25
            }
        }
        Path withMin = Files.createDirectories(dir.resolve("with-min"));
        try (var s = org.neuronscope.stats.NeuronStatistics.fromArrays(HookPoint.FFN_ACT, List.of("g"),
                Map.of(org.neuronscope.stats.Statistic.MIN, min), new long[] {3}, 0f, 0f)) {
            s.save(withMin);
        }
        Probe p = new Probe();
        new CommandLine(p).parseArgs("--mode", "minimum", "--stats", withMin.toString());
        p.call();
        Intervention.SetToMinimum m = (Intervention.SetToMinimum) p.got;
        org.junit.jupiter.api.Assertions.assertArrayEquals(new double[] {0.25, 10.25}, m.layerMinima());
    }
}
