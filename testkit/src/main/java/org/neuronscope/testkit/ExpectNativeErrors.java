package org.neuronscope.testkit;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.lang.reflect.AnnotatedElement;

/**
 * Marks a test (or every test of a class) that feeds llama.cpp bad input on purpose (corrupt files,
 * wrong media, impossible sizes): the ERROR lines llama.cpp logs meanwhile are expected. The test log
 * gets a line before and after the test saying so, so that a reader of a build's output can tell
 * them from real failures:
 * <pre>
 * [main] WARN org.neuronscope.testkit.ExpectNativeErrors - &gt;&gt;&gt; EXPECTED llama.cpp ERROR lines follow: ...
 * [main] ERROR llama.cpp - ...
 * [main] WARN org.neuronscope.testkit.ExpectNativeErrors - &lt;&lt;&lt; end of expected llama.cpp errors (...)
 * </pre>
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(ExpectNativeErrors.Marker.class)
public @interface ExpectNativeErrors {
    /** What the test provokes, e.g. "truncated GGUF files". */
    String value();

    /** Writes the two lines around each marked test. */
    final class Marker implements BeforeEachCallback, AfterEachCallback {
        private static final Logger LOG = LoggerFactory.getLogger(ExpectNativeErrors.class);

        @Override
        public void beforeEach(ExtensionContext context) {
            LOG.warn(">>> EXPECTED llama.cpp ERROR lines follow: {} provokes them on purpose ({})", name(context), reason(context));
        }

        @Override
        public void afterEach(ExtensionContext context) {
            LOG.warn("<<< end of expected llama.cpp errors ({})", name(context));
        }

        private static String name(ExtensionContext c) {
            return c.getRequiredTestClass().getSimpleName() + "." + c.getRequiredTestMethod().getName();
        }

        private static String reason(ExtensionContext c) {
            ExpectNativeErrors a = find(c.getRequiredTestMethod());
            if (a == null) {
                a = find(c.getRequiredTestClass());
            }
            return a == null ? "" : a.value();
        }

        private static ExpectNativeErrors find(AnnotatedElement e) {
            return e.getAnnotation(ExpectNativeErrors.class);
        }
    }
}
