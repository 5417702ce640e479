package org.neuronscope.collect;

import org.neuronscope.hooks.HookScope;
import org.neuronscope.hooks.LayerMask;
import org.neuronscope.methods.InterventionMask;

import org.neuronscope.methods.NeuronSet;

import org.junit.jupiter.api.Test;
import org.neuronscope.HookPoint;
import org.neuronscope.hooks.LayerMask;
import org.neuronscope.methods.Intervention;
import org.neuronscope.methods.InterventionMask;
import org.neuronscope.model.Model;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;
import org.neuronscope.stats.NeuronStatistics;
import org.neuronscope.stats.Statistic;
import org.neuronscope.testkit.SyntheticFixtures;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Neuron sets become exactly the masks the modes promise. */
class InterventionsTest {
    @Test
    void modesSetTheMasksTheyPromise() {
        try (Model model = Model.load(SyntheticFixtures.tiny("llama"));
             Session session = model.newSession(SessionParams.defaults().withContextSize(64).withBatchSize(16).withThreads(2));
             HookScope hooks = session.hooks().openScope()) {
            int layers = model.layerCount();
            int width = hooks.hooks().width(HookPoint.FFN_ACT, 0);
            NeuronSet set = new NeuronSet("test", HookPoint.FFN_ACT, layers, width, Map.of());
            set.add("image", 0, 3, 1).add("image", 2, 7, 1).add("audio", 2, 9, 1);

            hooks.apply(InterventionMask.of(set, List.of("image"), Intervention.deactivate()), HookPoint.FFN_ACT);
            LayerMask l2 = hooks.mask(HookPoint.FFN_ACT, 2);
            assertEquals(0f, l2.scaleOf(7));
            assertEquals(1f, l2.scaleOf(9), "audio was not chosen");
            hooks.removeMasks();

            hooks.apply(InterventionMask.of(set, List.of("audio"), Intervention.complementary()), HookPoint.FFN_ACT);
            LayerMask c0 = hooks.mask(HookPoint.FFN_ACT, 0);
            LayerMask c2 = hooks.mask(HookPoint.FFN_ACT, 2);
            assertEquals(0f, c0.scaleOf(3), "complementary: everything else is off");
            assertEquals(1f, c2.scaleOf(9), "complementary: the set stays on");
            assertEquals(0f, c2.scaleOf(7));
            hooks.removeMasks();

            try (NeuronStatistics observed = new NeuronStatistics(HookPoint.FFN_ACT, layers, width, List.of("all"), EnumSet.of(Statistic.MIN), 0f, 0f)) {
                for (int l = 0; l < layers; l++) {
                    for (int n = 0; n < width; n++) {
                        observed.set(Statistic.MIN, l, 0, n, -0.25 * (l + 1) + n * 1e-3);
                    }
                }
                hooks.apply(InterventionMask.of(set, List.of("image", "audio"), new Intervention.SetToMinimum(InterventionMask.layerMinima(observed))), HookPoint.FFN_ACT);
                LayerMask m2 = hooks.mask(HookPoint.FFN_ACT, 2);
                assertEquals(0f, m2.scaleOf(7));
                assertEquals(-0.75f, m2.shiftOf(7), 1e-6f, "layer 2's minimum");
                assertEquals(-0.75f, m2.shiftOf(9), 1e-6f);
                assertEquals(-0.25f, hooks.mask(HookPoint.FFN_ACT, 0).shiftOf(3), 1e-6f, "layer 0's minimum");
                assertEquals(1f, m2.scaleOf(8), "others untouched");
                assertEquals(0f, m2.shiftOf(8));
            }
        }
    }
}
