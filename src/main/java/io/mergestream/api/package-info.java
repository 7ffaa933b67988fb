/**
 * The Java API of mergestream: merge LLM checkpoints from a program (an evolutionary merge search, a training
 * pipeline that merges between runs, a model server that builds variants on demand) without the command line.
 * It is the only exported package of the {@code io.mergestream} module; everything else is internal.
 *
 * <p>Where to start: read a recipe (the mergekit YAML the {@code merge} command takes, from a file or a string,
 * or one built in code), choose options (threads, kernel, seed, shard size, strictness), then either plan the
 * merge — which checks everything the run would check and lists each output tensor with its method and size,
 * writing nothing — or run it into a directory (written atomically, as the command line does) or into a sink
 * that receives each finished tensor (to evaluate or forward a merge without touching the disk). Problems come
 * as typed exceptions (a bad recipe, a bad checkpoint, an I/O failure) instead of exit codes; progress and
 * warnings come to a listener the caller supplies, and the library itself writes nothing to the console beyond
 * {@link java.lang.System.Logger}.
 *
 * <p>The module reads {@code jdk.incubator.vector} only if the program adds it
 * ({@code --add-modules jdk.incubator.vector}); without it merges run the scalar kernel, which gives the same
 * bits more slowly, and one line is logged saying why. Memory-mapped inputs and page advice need
 * {@code --enable-native-access=io.mergestream} (or {@code ALL-UNNAMED} on the class path).
 */
package io.mergestream.api;
