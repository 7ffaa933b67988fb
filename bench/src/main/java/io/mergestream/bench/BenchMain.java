package io.mergestream.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * JMH's command line (same options as {@code org.openjdk.jmh.Main}) with two additions: the {@code impl}
 * parameter keeps only the kernels that can run here (the native one needs its C library, which may not be
 * built: it is then skipped with a note instead of failing every run), and at the end a table of medians
 * over all measurement iterations: input GB/s and ns per element.
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) throws RunnerException, CommandLineOptionException, java.io.IOException {
        CommandLineOptions cli = new CommandLineOptions(args);
        if (cli.shouldHelp() || cli.shouldList() || cli.shouldListProfilers() || cli.shouldListResultFormats()
                || cli.shouldListWithParams()) {
            org.openjdk.jmh.Main.main(args);
            return;
        }
        Optional<Collection<String>> asked = cli.getParameter("impl").hasValue()
                ? Optional.of(cli.getParameter("impl").get()) : Optional.empty();
        List<String> impls = new ArrayList<>();
        for (String name : asked.orElse(List.of("scalar", "vector", "native"))) {
            // The forks always get --add-modules jdk.incubator.vector; only the native kernel may be missing.
            if (name.equals("native") && !Implementations.available("native")) {
                System.err.println("bench: skipping impl=native (Kernels.byName(\"native\") is not available"
                        + " in this build: build native/ first, see bench/README.md)");
                continue;
            }
            impls.add(name);
        }
        if (impls.isEmpty()) {
            System.err.println("bench: no kernel implementation left to run");
            System.exit(2);
        }
        OptionsBuilder options = new OptionsBuilder();
        options.parent(cli);
        options.param("impl", impls.toArray(String[]::new));
        Collection<RunResult> results = new Runner(options.build()).run();
        printMedians(results);
    }

    /** One line per parameter combination: medians over every measurement iteration of every fork. */
    static void printMedians(Collection<RunResult> results) {
        if (results.isEmpty()) return;
        System.out.println();
        System.out.println("Medians over all measurement iterations (input GB/s = base + models as stored):");
        List<String> keys = null;
        for (RunResult run : results) {
            BenchmarkParams p = run.getParams();
            if (keys == null) {
                keys = new ArrayList<>(p.getParamsKeys());
                StringBuilder h = new StringBuilder();
                for (String k : keys) h.append(String.format(Locale.ROOT, "%-16s", k));
                System.out.println(h + String.format(Locale.ROOT, "%12s %14s %8s", "input GB/s", "ns/element", "iters"));
            }
            List<Double> bytes = new ArrayList<>();
            List<Double> elements = new ArrayList<>();
            for (BenchmarkResult fork : run.getBenchmarkResults()) {
                for (IterationResult it : fork.getIterationResults()) {
                    Result<?> b = it.getSecondaryResults().get("inputBytes");
                    Result<?> e = it.getSecondaryResults().get("elements");
                    if (b != null) bytes.add(b.getScore());
                    if (e != null) elements.add(e.getScore());
                }
            }
            StringBuilder line = new StringBuilder();
            for (String k : keys) line.append(String.format(Locale.ROOT, "%-16s", p.getParam(k)));
            double gbs = median(bytes) / 1e9;
            double nsPerElement = 1e9 / median(elements);
            System.out.println(line + String.format(Locale.ROOT, "%12.3f %14.3f %8d", gbs, nsPerElement, bytes.size()));
        }
    }

    static double median(List<Double> values) {
        if (values.isEmpty()) return Double.NaN;
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(null);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
