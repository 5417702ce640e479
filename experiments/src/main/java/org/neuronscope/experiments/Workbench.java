package org.neuronscope.experiments;

import org.neuronscope.NeuronScopeException;
import org.neuronscope.hooks.Hooks;
import org.neuronscope.media.MultimodalPrompts;
import org.neuronscope.media.Projector;
import org.neuronscope.media.ProjectorParams;
import org.neuronscope.media.PromptFormat;
import org.neuronscope.media.PromptSource;
import org.neuronscope.media.TextPrompts;
import org.neuronscope.model.Model;
import org.neuronscope.model.ModelParams;
import org.neuronscope.model.Session;
import org.neuronscope.model.SessionParams;

import java.nio.file.Path;

/**
 * What an experiment runs on: a model (and its projector, if any), one session (with its hooks), and
 * the prompt source matching them. Owns all of them; closing closes them in reverse order.
 */
public final class Workbench implements AutoCloseable {
    /**
     * How to open a workbench.
     *
     * @param model     the language model GGUF
     * @param loading   how to load it (GPU layers, mmap)
     * @param projector its mmproj GGUF, or null for a text-only model
     * @param session   context size, batch sizes, threads (flash attention must be off for MINER's attention metrics)
     * @param media     projector options
     * @param format    chat template and prompt layout
     */
    public record Setup(Path model, ModelParams loading, Path projector, SessionParams session, ProjectorParams media, PromptFormat format) {
        public Setup {
            if (model == null) {
                throw new IllegalArgumentException("a model file is required");
            }
        }
    }

    private final Setup setup;
    private final Model model;
    private final Projector projector;
    private final Session session;
    private final PromptSource prompts;

    private Workbench(Setup setup, Model model, Projector projector, Session session) {
        this.setup = setup;
        this.model = model;
        this.projector = projector;
        this.session = session;
        this.prompts = projector != null ? new MultimodalPrompts(projector, setup.format()) : new TextPrompts(model, setup.format());
    }

    public static Workbench open(Setup setup) {
        Model model = Model.load(setup.model(), setup.loading());
        Projector projector = null;
        Session session = null;
        try {
            projector = setup.projector() == null ? null : Projector.load(model, setup.projector(), setup.media());
            session = model.newSession(setup.session());
            return new Workbench(setup, model, projector, session);
        } catch (RuntimeException e) {
            try {
                model.close(); // closes the session and the projector too
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    public Setup setup() {
        return setup;
    }

    public Model model() {
        return model;
    }

    /** The projector, or null for a text-only model. */
    public Projector projector() {
        return projector;
    }

    public Session session() {
        return session;
    }

    /** The session's hooks ({@code session().hooks()}). */
    public Hooks hooks() {
        return session.hooks();
    }

    public PromptSource prompts() {
        return prompts;
    }

    /** Prompts of this model (and projector) in another format, e.g. with the answers appended for statistics. */
    public PromptSource prompts(org.neuronscope.media.PromptFormat format) {
        return projector != null ? new MultimodalPrompts(projector, format) : new TextPrompts(model, format);
    }

    /**
     * Closes the session, the projector and the model, each even if closing an earlier one failed
     * (the first failure is thrown, later ones suppressed). Idempotent.
     */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (AutoCloseable part : projector == null ? new AutoCloseable[] {session, model} : new AutoCloseable[] {session, projector, model}) {
            try {
                part.close();
            } catch (Exception e) {
                RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                if (failure == null) {
                    failure = r;
                } else {
                    failure.addSuppressed(r);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
