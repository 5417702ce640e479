package org.neuronscope.eval;

import org.junit.jupiter.api.Test;
import org.neuronscope.NeuronScopeException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricTableTest {
    private static MetricTable table() {
        return new MetricTable()
                .put("baseline", "medical", "accuracy", 0.56)
                .put("ablated", "medical", "accuracy", 0.24)
                .put("random", "medical", "accuracy", 0.55)
                .put("baseline", "medical", "ppl", 7.5)
                .put("ablated", "medical", "ppl", 12.25)
                .put("baseline", "driving, urban", "accuracy", 0.5);
    }

    @Test
    void valuesAndDeltas() {
        MetricTable t = table();
        assertEquals(List.of("baseline", "ablated", "random"), t.runs());
        assertEquals(List.of("medical", "driving, urban"), t.groups());
        assertEquals(List.of("accuracy", "ppl"), t.metrics());
        assertEquals("baseline", t.baseline());
        assertEquals(-0.32, t.delta("ablated", "medical", "accuracy"), 1e-12);
        assertEquals(4.75, t.delta("ablated", "medical", "ppl"), 1e-12);
        assertTrue(Double.isNaN(t.delta("random", "medical", "ppl")));
        assertNull(t.cell("random", "driving, urban", "accuracy"));
        t.baseline("random");
        assertEquals(-0.31, t.delta("ablated", "medical", "accuracy"), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> t.baseline("nope"));
    }

    @Test
    void alignedText() {
        String expected = """
                group           metric    baseline  ablated  Δ ablated  random  Δ random
                --------------  --------  --------  -------  ---------  ------  --------
                medical         accuracy     0.560    0.240     -0.320   0.550    -0.010
                medical         ppl          7.500   12.250     +4.750       -         -
                driving, urban  accuracy     0.500        -          -       -         -
                """;
        assertEquals(expected, table().toText(3));
    }

    @Test
    void csvInLongForm() {
        String expected = """
                group,metric,run,value,ci_low,ci_high,delta
                medical,accuracy,baseline,0.56,,,
                medical,accuracy,ablated,0.24,,,-0.32000000000000006
                medical,accuracy,random,0.55,,,-0.010000000000000009
                medical,ppl,baseline,7.5,,,
                medical,ppl,ablated,12.25,,,4.75
                "driving, urban",accuracy,baseline,0.5,,,
                """;
        assertEquals(expected, table().toCsv());
    }

    @Test
    void accuracyWithInterval() {
        MetricTable t = new MetricTable()
                .put("baseline", "all", "acc", new Accuracy(5, 10))
                .put("ablated", "all", "acc", new Accuracy(0, 10));
        assertEquals("""
                group  metric           baseline            ablated  Δ ablated
                -----  ------  -----------------  -----------------  ---------
                all    acc     0.50 [0.24, 0.76]  0.00 [0.00, 0.28]      -0.50
                """, t.toText(2));
        String csv = t.toCsv();
        assertTrue(csv.contains("all,acc,baseline,0.5,0.23659309"), csv);
        assertTrue(csv.contains("all,acc,ablated,0.0,0.0,0.27753"), csv);
        assertThrows(IllegalArgumentException.class, () -> t.put(" ", "g", "m", 1));
    }
}
