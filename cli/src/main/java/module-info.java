/** The command line: {@code neuronscope <command>}, one class per command. */
module org.neuronscope.cli {
    requires org.neuronscope.experiments;
    requires org.neuronscope.testkit;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires org.slf4j;
    requires java.desktop;

    opens org.neuronscope.cli to info.picocli;
}
