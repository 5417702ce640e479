package org.neuronscope.cli;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
                        "org.neuronscope.methods..", "org.neuronscope.eval..", "org.neuronscope.probe..")
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
                        "org.neuronscope.eval..", "org.neuronscope.probe..", "org.neuronscope.model..", "org.neuronscope.hooks..", "org.neuronscope.media..",
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
        // and what is internal stays so for the module system too: exported are only the public packages
        for (Class<?> inModule : List.of(org.neuronscope.model.Session.class, org.neuronscope.bindings.neuronscope_h.class)) {
            ModuleDescriptor descriptor = descriptorOf(inModule);
            for (ModuleDescriptor.Exports e : descriptor.exports()) {
                if (e.source().equals("org.neuronscope.bindings")) {
                    assertEquals(Set.of("org.neuronscope.runtime"), e.targets(), "the bindings are for the runtime only");
                } else {
                    assertFalse(e.source().startsWith("org.neuronscope.internal"), descriptor.name() + " exports " + e.source());
                }
            }
        }
    }

    /** The module descriptor compiled into the jar or class directory that holds {@code type}. */
    private static ModuleDescriptor descriptorOf(Class<?> type) {
        try {
            Path location = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            return ModuleFinder.of(location).findAll().iterator().next().descriptor();
        } catch (java.net.URISyntaxException e) {
            throw new AssertionError(e);
        }
    }
}
