package org.neuronscope.spark;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The Spark module's place in the layering (cli's ArchitectureTest checks the modules on its class
 * path, which leaves this one out so that the command line's tests need no Spark): it builds on the
 * public API of the experiments and below, never on the native layer's internals, the test kit or
 * the command line, and System.out is left to its entry point.
 */
class SparkArchitectureTest {
    private static final JavaClasses CLASSES = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.neuronscope.spark");

    @Test
    void usesOnlyThePublicLayers() {
        noClasses().that().resideInAPackage("org.neuronscope.spark..")
                .should().dependOnClassesThat().resideInAnyPackage("org.neuronscope.bindings..", "org.neuronscope.internal..",
                        "org.neuronscope.testkit..", "org.neuronscope.cli..")
                .check(CLASSES);
    }

    @Test
    void libraryCodeDoesNotPrint() {
        noClasses().that().resideInAPackage("org.neuronscope.spark..").and().doNotHaveSimpleName("SparkStatsMain")
                .should().accessField(System.class, "out").orShould().accessField(System.class, "err")
                .check(CLASSES);
    }
}
