package io.mergestream.cli;

import io.mergestream.format.MappedPages;

/**
 * The CLI for a child JVM started with {@code -Dmergestream.noPageAdvice=true}: exits 99 unless page advice is
 * really off there (the path of a platform without madvise/fadvise), else runs the command.
 */
final class AdviceOffMain {
    private AdviceOffMain() {}

    public static void main(String[] args) {
        if (MappedPages.available()) {
            System.err.println("page advice is on");
            System.exit(99);
        }
        System.exit(Main.run(args));
    }
}
