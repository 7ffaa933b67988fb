package io.mergestream.cli;

import io.mergestream.Names;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.MergestreamException;
import io.mergestream.analysis.DeltaStats;
import io.mergestream.analysis.ModelDiff;
import io.mergestream.parallel.ChunkRunner;
import io.mergestream.engine.Progress;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code mergestream diff A B}: tensor-by-tensor comparison; exit 0 when the models match, 1 when not. */
@Command(name = "diff", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Compares two checkpoints tensor by tensor: max and mean |a-b|, cosine, bit-identical elements, "
                + "elements outside the tolerance; tensors in only one model and shape or dtype differences.",
                "Exit code: 0 when every tensor is in both, with the same shape and dtype, and every element matches "
                        + "(bit-identical, or within --tolerance when it is positive); 1 otherwise; 2 on any trouble (bad input, I/O, internal error)."})
final class DiffCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "A", description = "First model directory or .safetensors file.")
    Path a;

    @Parameters(index = "1", paramLabel = "B", description = "Second model directory or .safetensors file.")
    Path b;

    @Mixin
    SharedOptions.JsonOutput json;

    @Option(names = "--tolerance", paramLabel = "T",
            description = "Largest |a-b| that still matches (default 0: values must be bit-identical).")
    double tolerance;

    @Mixin
    SharedOptions.Threads threads;

    @Mixin
    SharedOptions.Quiet quiet;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
            throw new MergestreamException("--tolerance must be a finite number >= 0");
        }
        int block = DeltaStats.DEFAULT_BLOCK;
        ModelDiff.Report r;
        try (Checkpoint ca = DeltaStatsCommand.open(a, "A"); Checkpoint cb = DeltaStatsCommand.open(b, "B");
             ChunkRunner runner = new ChunkRunner(threads.count, block);
             Progress progress = new Progress(System.err, Terminal.progress(quiet.quiet),
                     DeltaStatsCommand.bytes(ca) + DeltaStatsCommand.bytes(cb), ca.tensorCount())) {
            r = ModelDiff.compute(ca, cb, tolerance, runner, block, progress);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(json.json ? Json.pretty(toJson(r)) : text(r));
        out.flush();
        return r.matches() ? 0 : 1;
    }

    private static String text(ModelDiff.Report r) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-44s %-10s %9s %10s %10s %9s %11s %9s%n", "tensor", "dtype", "elements",
                "max|a-b|", "mean|a-b|", "cosine", "identical", "over tol"));
        for (ModelDiff.TensorDiff t : r.tensors()) {
            String shown = Names.printable(t.name());
            String name = shown.length() > 44 ? "…" + shown.substring(shown.length() - 43) : shown;
            String dtype = t.dtypeA() == t.dtypeB() ? t.dtypeA().name() : t.dtypeA() + "/" + t.dtypeB();
            if (!t.compared()) {
                s.append(String.format(Locale.ROOT, "%-44s %-10s %9d   (dtypes not comparable)%n", name, dtype, t.elements()));
                continue;
            }
            s.append(String.format(Locale.ROOT, "%-44s %-10s %9d %10.3e %10.3e %9.6f %11d %9d%s%n", name, dtype,
                    t.elements(), t.maxAbs(), t.meanAbs(), t.cosine(), t.identical(), t.overTolerance(),
                    t.matches() ? "" : "  DIFFERS"));
        }
        for (String n : r.onlyInA()) s.append("only in A: ").append(Names.printable(n)).append('\n');
        for (String n : r.onlyInB()) s.append("only in B: ").append(Names.printable(n)).append('\n');
        for (ModelDiff.ShapeMismatch m : r.shapeMismatches()) {
            s.append("shape differs: ").append(Names.printable(m.name())).append(' ').append(Arrays.toString(m.shapeA())).append(" vs ")
                    .append(Arrays.toString(m.shapeB())).append('\n');
        }
        s.append(String.format(Locale.ROOT, "%s: %d tensors compared, %d differ, %d only in A, %d only in B, "
                        + "%d shape differences (tolerance %s)%n", r.matches() ? "MATCH" : "DIFFERENT", r.tensors().size(),
                r.differingTensors(), r.onlyInA().size(), r.onlyInB().size(), r.shapeMismatches().size(),
                r.tolerance() == 0 ? "0: bit-identical" : Double.toString(r.tolerance())));
        return s.toString();
    }

    private static ObjectNode toJson(ModelDiff.Report r) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("a", r.a()).put("b", r.b()).put("tolerance", r.tolerance()).put("match", r.matches());
        ArrayNode tensors = root.putArray("tensors");
        for (ModelDiff.TensorDiff t : r.tensors()) {
            ObjectNode n = tensors.addObject();
            n.put("name", t.name()).put("dtype_a", t.dtypeA().name()).put("dtype_b", t.dtypeB().name());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            n.put("elements", t.elements()).put("compared", t.compared());
            DeltaStatsCommand.num(n, "max_abs_diff", t.maxAbs());
            DeltaStatsCommand.num(n, "mean_abs_diff", t.meanAbs());
            DeltaStatsCommand.num(n, "cosine", t.cosine());
            n.put("identical", t.identical()).put("over_tolerance", t.overTolerance()).put("match", t.matches());
        }
        ArrayNode onlyA = root.putArray("only_in_a");
        r.onlyInA().forEach(onlyA::add);
        ArrayNode onlyB = root.putArray("only_in_b");
        r.onlyInB().forEach(onlyB::add);
        ArrayNode shapes = root.putArray("shape_differences");
        for (ModelDiff.ShapeMismatch m : r.shapeMismatches()) {
            ObjectNode n = shapes.addObject().put("name", m.name());
            ArrayNode sa = n.putArray("shape_a");
            for (long d : m.shapeA()) sa.add(d);
            ArrayNode sb = n.putArray("shape_b");
            for (long d : m.shapeB()) sb.add(d);
        }
        return root;
    }
}
