package io.mergestream.cli;

import picocli.CommandLine;

/** The version from the jar manifest (or "dev" when run from classes). */
public final class Version implements CommandLine.IVersionProvider {

    public static String current() {
        return io.mergestream.engine.ModelCard.currentVersion();
    }

    @Override
    public String[] getVersion() {
        return new String[] {"mergestream " + current() + " (Java " + Runtime.version() + ")"};
    }
}
