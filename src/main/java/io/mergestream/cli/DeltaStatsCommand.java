package io.mergestream.cli;

import io.mergestream.format.CheckpointFiles;
import io.mergestream.Names;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.MergestreamException;
import io.mergestream.analysis.AbsHistogram;
import io.mergestream.analysis.DeltaReport;
import io.mergestream.analysis.DeltaStats;
import io.mergestream.analysis.DeltaStats.Figures;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.InputModel;
import io.mergestream.plan.DarePlanner;
import io.mergestream.format.Json;
import io.mergestream.format.ModelLocator;
import java.io.IOException;
import io.mergestream.format.OutputFile;
import io.mergestream.format.TensorFile;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mergestream delta-stats}: what a fine-tune changed, and whether DARE suits it. */
@Command(name = "delta-stats", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Statistics of delta = model - base in one streamed pass, per tensor, per layer and for the "
                + "whole model: |delta| quantiles 50/90/99 (within 0.4%% of the true value) and max (exact), mean, std, "
                + "fraction of |delta| within 0.005 and 0.03, cosine(model, base), ||delta||/||base||; then a verdict: "
                + "SFT-like (and the drop rates DARE typically survives), large deltas (and the drop rate above which "
                + "DARE is expected to degrade), or not a fine-tune of this base. Thresholds: docs/delta-stats.md."})
final class DeltaStatsCommand implements Callable<Integer> {

    @Option(names = "--base", required = true, paramLabel = "B", description = "Base model directory.")
    Path base;

    @Option(names = "--model", required = true, paramLabel = "M", description = "Fine-tuned model directory.")
    Path model;

    @Mixin
    SharedOptions.JsonOutput json;

    @Option(names = "--html", paramLabel = "FILE", description = "Also write a self-contained HTML report with charts "
            + "(never onto a file it reads, nor over an existing file that is not an earlier report).")
    Path html;

    @Mixin
    SharedOptions.Threads threads;

    @Mixin
    SharedOptions.Quiet quiet;


    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        int block = DeltaStats.DEFAULT_BLOCK;
        long t0 = System.nanoTime();
        DeltaStats.Report r;
        OutputFile report;
        try (InputModel b = DarePlanner.open(base, "--base", null); InputModel m = DarePlanner.open(model, "--model", b);
             ChunkRunner runner = new ChunkRunner(threads.count, block);
             Progress progress = new Progress(System.err, Terminal.progress(quiet.quiet), bytes(b) + bytes(m), b.tensorCount())) {
            // checked before the pass, so a report path onto an input is refused before any work (issue 9)
            report = html == null ? null : OutputFile.check(html, "--html", readFiles(b, m), DeltaStatsCommand::isReport);
            r = DeltaStats.compute(b, m, runner, block, progress);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json.json) {
            out.print(Json.pretty(toJson(r)));
        } else {
            printText(out, r);
        }
        out.flush();
        if (report != null) report.write(DeltaReport.html(r));
        System.err.printf(Locale.ROOT, "mergestream: compared %d tensors (%s elements) in %.2f s: %s%n",
                r.tensors().size(), Bytes.count(r.overall().elements()), (System.nanoTime() - t0) / 1e9,
                r.verdict().kind().name().toLowerCase(Locale.ROOT).replace('_', '-'));
        return 0;
    }

    /** Every file this command reads: each model as given, its shards and its index. */
    private static List<Path> readFiles(InputModel... models) {
        List<Path> files = new ArrayList<>();
        for (InputModel c : models) {
            files.add(c.location());
            files.add(c.directory());
            files.add(c.directory().resolve(CheckpointFiles.INDEX_FILE));
            files.add(c.directory().resolve(CheckpointFiles.BIN_INDEX_FILE));
            if (c instanceof Checkpoint ck) for (TensorFile f : ck.shards()) files.add(f.path());
        }
        return files;
    }

    /** An earlier report of this command (DeltaReport's first line and title), which --html may replace. */
    static boolean isReport(String head) {
        return head.startsWith("<!DOCTYPE html>") && head.contains("<title>delta-stats: ");
    }

    /** A model named on the command line: a local path, else a Hugging Face id in the local cache. */
    static Checkpoint open(Path p, String option) {
        return Checkpoint.open(ModelLocator.locate(p.toString(), option));
    }

    static long bytes(InputModel c) {
        return c.tensors().stream().mapToLong(t -> t.bytesRead()).sum();
    }

    private static final String HEADER = String.format(Locale.ROOT, "%-44s %9s %10s %9s %9s %9s %9s %9s %7s %7s %8s %8s",
            "", "elements", "mean", "std", "p50|d|", "p90|d|", "p99|d|", "max|d|", "<=.005", "<=.03", "cosine", "relnorm");

    private static void printText(PrintWriter out, DeltaStats.Report r) {
        out.printf(Locale.ROOT, "base   %s%nmodel  %s%n%n", Names.printable(r.base()), Names.printable(r.model()));
        out.println(HEADER);
        for (DeltaStats.TensorStats t : r.tensors()) out.println(line(Names.printable(t.name()), t.figures()));
        if (!r.layers().isEmpty()) {
            out.println();
            for (DeltaStats.LayerStats l : r.layers()) out.println(line("layer " + l.layer(), l.figures()));
        }
        out.println();
        out.println(line("whole model", r.overall()));
        for (DeltaStats.Skipped s : r.skipped()) {
            out.printf(Locale.ROOT, "not compared: %s (%s)%n", Names.printable(s.name()), Names.printable(s.reason()));
        }
        out.printf(Locale.ROOT, "%nelement-weighted per-tensor cosine %.4f, relative norm %.4f; quantiles within %.2f%%, max exact%n",
                r.weightedCosine(), r.weightedRelativeNorm(), 100 * AbsHistogram.RELATIVE_ERROR);
        out.printf(Locale.ROOT, "verdict: %s%n", r.verdict().summary());
    }

    private static String line(String name, Figures f) {
        if (name.length() > 44) name = "…" + name.substring(name.length() - 43);
        return String.format(Locale.ROOT, "%-44s %9d %10.2e %9.2e %9.2e %9.2e %9.2e %9.2e %6.1f%% %6.1f%% %8.4f %8.4f",
                name, f.elements(), f.mean(), f.std(), f.p50(), f.p90(), f.p99(), f.max(), 100 * f.withinSmall(),
                100 * f.withinLarge(), f.cosine(), f.relativeNorm());
    }

    private static ObjectNode toJson(DeltaStats.Report r) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("base", r.base().toString());
        root.put("model", r.model().toString());
        ObjectNode v = root.putObject("verdict");
        v.put("kind", r.verdict().kind().name().toLowerCase(Locale.ROOT));
        num(v, "safe_drop_rate", r.verdict().safeDropRate());
        v.put("summary", r.verdict().summary());
        root.put("quantile_relative_error", AbsHistogram.RELATIVE_ERROR);
        num(root, "weighted_cosine", r.weightedCosine());
        num(root, "weighted_relative_norm", r.weightedRelativeNorm());
        figures(root.putObject("overall"), r.overall());
        ArrayNode layers = root.putArray("layers");
        for (DeltaStats.LayerStats l : r.layers()) figures(layers.addObject().put("layer", l.layer()), l.figures());
        ArrayNode tensors = root.putArray("tensors");
        for (DeltaStats.TensorStats t : r.tensors()) {
            ObjectNode n = tensors.addObject();
            n.put("name", t.name()).put("kind", t.kind());
            if (t.layer() >= 0) n.put("layer", t.layer());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            figures(n, t.figures());
        }
        ArrayNode skipped = root.putArray("not_compared");
        for (DeltaStats.Skipped s : r.skipped()) skipped.addObject().put("name", s.name()).put("reason", s.reason());
        return root;
    }

    private static void figures(ObjectNode n, Figures f) {
        n.put("elements", f.elements());
        n.put("non_finite", f.nonFinite());
        num(n, "mean", f.mean());
        num(n, "std", f.std());
        num(n, "rms", f.rms());
        num(n, "p50_abs", f.p50());
        num(n, "p90_abs", f.p90());
        num(n, "p99_abs", f.p99());
        num(n, "max_abs", f.max());
        num(n, "within_0.005", f.withinSmall());
        num(n, "within_0.03", f.withinLarge());
        num(n, "cosine", f.cosine());
        num(n, "relative_norm", f.relativeNorm());
    }

    /** Non-finite numbers are not JSON: written as null. */
    static void num(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) n.put(key, v); else n.putNull(key);
    }
}
