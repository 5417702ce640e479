package org.neuronscope.methods;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The text form and the mask of "minimum:call" (the minimum of each call's tensor), beside the static "minimum". */
class CallMinimumInterventionTest {
    @Test
    void parsesAndPrints() {
        assertEquals(new Intervention.SetToCallMinimum(), Intervention.parse("minimum:call"));
        assertEquals(new Intervention.Complementary(new Intervention.SetToCallMinimum()), Intervention.parse("complementary:minimum:call"));
        assertEquals("complementary:minimum:call", Intervention.parse("Complementary:Minimum:Call").toString());
        assertEquals(new Intervention.SetToMinimum(null), Intervention.parse("minimum"));
        assertTrue(Intervention.parse("minimum:call").usesCallMinimum());
        assertTrue(Intervention.parse("complementary:minimum:call").usesCallMinimum());
        assertFalse(Intervention.parse("minimum").usesCallMinimum());
        assertFalse(Intervention.parse("minimum:call").needsMinima(), "computed in the graph: no statistics needed");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Intervention.parse("minimum:layer"));
        assertTrue(e.getMessage().contains("'call'"), e.getMessage());
    }

    @Test
    void masksWeighTheCallMinimum() {
        NeuronSet set = new NeuronSet("t", HookPoint.FFN_ACT, 2, 6, Map.of());
        set.add("g", 0, 1, 1).add("g", 1, 4, 1);
        InterventionMask m = InterventionMask.of(set, List.of("g"), Intervention.parse("minimum:call"));
        assertTrue(m.usesCallMinimum());
        assertEquals(2, m.changed());
        assertEquals(0f, m.scale(0, 1));
        assertEquals(0f, m.shift(0, 1));
        assertEquals(1f, m.minimumWeight(0, 1));
        assertEquals(0f, m.minimumWeight(0, 2));
        assertEquals(1f, m.scale(0, 2));
        InterventionMask c = InterventionMask.of(set, List.of("g"), Intervention.parse("complementary:minimum:call"));
        assertEquals(10, c.changed());
        assertEquals(0f, c.minimumWeight(1, 4));
        assertEquals(1f, c.minimumWeight(1, 3));
        assertFalse(c.isIdentity(0));
        assertFalse(InterventionMask.of(set, List.of("g"), Intervention.deactivate()).usesCallMinimum());
    }

    @Test
    void exportRefusesIt() {
        NeuronSet set = new NeuronSet("t", HookPoint.FFN_ACT, 2, 6, Map.of());
        set.add("g", 0, 1, 1);
        InterventionMask m = InterventionMask.of(set, List.of("g"), Intervention.parse("minimum:call"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AblationExport.write(Path.of("in.gguf"), HookPoint.FFN_ACT, m, Path.of("out.gguf"), Map.of()));
        assertTrue(e.getMessage().contains("minimum:call"), e.getMessage());
    }
}
