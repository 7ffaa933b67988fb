/**
 * mergestream: streaming, off-heap merging of LLM checkpoints. Only {@link io.mergestream.api} is exported;
 * every other package is internal and may change in any release.
 *
 * <p>{@code jdk.incubator.vector} is optional ({@code requires static}): a program that does not add the module
 * ({@code --add-modules jdk.incubator.vector}) runs the scalar kernel, which gives the same bits, and the merge
 * says once why the vector kernel is not used.
 */
module io.mergestream {
    requires static jdk.incubator.vector;
    // VectorSupport reads HotSpot's VM options (C2 on or off) to decide whether the vector kernel runs well
    requires java.management;
    requires jdk.management;
    requires com.fasterxml.jackson.core;
    requires com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.yaml;
    requires org.yaml.snakeyaml;
    requires info.picocli;
    requires org.lz4.java;

    exports io.mergestream.api;

    // picocli sets the commands' annotated fields and calls their methods reflectively
    opens io.mergestream.cli to info.picocli;
}
