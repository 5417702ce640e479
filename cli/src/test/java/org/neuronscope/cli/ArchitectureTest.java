package org.neuronscope.cli;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noMethods;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The layering of the modules, checked on the compiled classes of all of them (the command line's
 * tests see every module): packages form no cycle, the analysis module never reaches native code,
 * and nothing public hands out a native handle or an internal type.
 */
class ArchitectureTest {
    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("org.neuronscope");
        assertTrue(classes.size() > 100, "the importer found the modules' classes: " + classes.size());
    }

    @Test
    void packagesFormNoCycle() {
        slices().matching("org.neuronscope.(*)..").should().beFreeOfCycles().check(classes);
    }

    @Test
    void analysisUsesNoNativeCode() {
        ArchRule rule = noClasses().that().resideInAnyPackage("org.neuronscope", "org.neuronscope.gguf..", "org.neuronscope.stats..",
                        "org.neuronscope.methods..", "org.neuronscope.eval..")
                .should().dependOnClassesThat().resideInAnyPackage("org.neuronscope.bindings..", "org.neuronscope.internal..",
                        "org.neuronscope.model..", "org.neuronscope.hooks..", "org.neuronscope.media..", "org.neuronscope.collect..",
                        "org.neuronscope.experiments..", "org.neuronscope.testkit..", "org.neuronscope.cli..");
        rule.check(classes);
    }

    @Test
    void onlyTheRuntimeTouchesTheBindings() {
        noClasses().that().resideOutsideOfPackages("org.neuronscope.bindings..", "org.neuronscope.internal..", "org.neuronscope.model..",
                        "org.neuronscope.hooks..", "org.neuronscope.media..", "org.neuronscope.collect..")
                .should().dependOnClassesThat().resideInAnyPackage("org.neuronscope.bindings..", "org.neuronscope.internal..")
                .check(classes);
    }

    @Test
    void libraryCodeNeitherPrintsNorDependsOnTheTestKit() {
        noClasses().that().resideInAnyPackage("org.neuronscope", "org.neuronscope.gguf..", "org.neuronscope.stats..", "org.neuronscope.methods..",
                        "org.neuronscope.eval..", "org.neuronscope.model..", "org.neuronscope.hooks..", "org.neuronscope.media..",
                        "org.neuronscope.collect..", "org.neuronscope.experiments..", "org.neuronscope.internal..")
                .should().dependOnClassesThat().resideInAPackage("org.neuronscope.testkit..")
                .orShould().accessField(System.class, "out")
                .check(classes);
    }

    @Test
    void noPublicMethodHandsOutAnInternalType() {
        methods().that().arePublic().and().areDeclaredInClassesThat().arePublic()
                .and().areDeclaredInClassesThat().resideOutsideOfPackages("org.neuronscope.bindings..", "org.neuronscope.internal..")
                .should().notHaveRawReturnType(com.tngtech.archunit.base.DescribedPredicate.describe("an internal or bindings type",
                        (com.tngtech.archunit.core.domain.JavaClass c) -> c.getPackageName().startsWith("org.neuronscope.internal")
                                || c.getPackageName().startsWith("org.neuronscope.bindings")))
                .check(classes);
        noMethods().that().haveNameMatching("nativeHandle|handle").and().haveModifier(JavaModifier.PUBLIC)
                .and().areDeclaredInClassesThat().resideOutsideOfPackages("org.neuronscope.bindings..", "org.neuronscope.internal..")
                .should().beDeclaredInClassesThat().arePublic()
                .check(classes);
    }
}
