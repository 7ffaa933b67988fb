package io.mergestream.cli;

import io.mergestream.Names;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.format.checkpoint.Checkpoint;
import io.mergestream.format.Json;
import io.mergestream.format.ModelLocator;
import io.mergestream.format.StoredTensor;
import io.mergestream.format.TensorFile;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Summarises a checkpoint from its headers alone: no tensor data is read. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Shows a checkpoint's shards, tensors, parameters and bytes per dtype (reads headers only).")
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "Model directory, .safetensors file or Hugging Face id in the local cache (ORG/NAME[@REVISION]).")
    Path model;

    @Option(names = "--tensors", description = "Also list every tensor: name, dtype, shape, shard.")
    boolean tensors;

    @Mixin
    SharedOptions.JsonOutput json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (io.mergestream.format.pack.PackFile.isPack(model)) {
            PackInspect.print(out, model, tensors, json.json);
            out.flush();
            return 0;
        }
        try (Checkpoint ckpt = Checkpoint.open(ModelLocator.locate(model.toString(), "MODEL"))) {
            Summary s = Summary.of(ckpt);
            if (json.json) {
                out.print(Json.pretty(toJson(ckpt, s)));
            } else {
                printText(out, ckpt, s);
            }
        }
        out.flush();
        return 0;
    }

    private record Summary(long parameters, long bytes, Map<DType, long[]> perDtype) {
        static Summary of(Checkpoint ckpt) {
            long params = 0;
            long bytes = 0;
            Map<DType, long[]> perDtype = new EnumMap<>(DType.class);
            for (StoredTensor t : ckpt.tensors()) {
                params += t.info().elements();
                bytes += t.info().byteSize();
                long[] acc = perDtype.computeIfAbsent(t.info().dtype(), d -> new long[3]);
                acc[0]++;
                acc[1] += t.info().elements();
                acc[2] += t.info().byteSize();
            }
            return new Summary(params, bytes, perDtype);
        }
    }

    private void printText(PrintWriter out, Checkpoint ckpt, Summary s) {
        out.printf(Locale.ROOT, "model       %s%n", Names.printable(ckpt.location()));
        out.printf(Locale.ROOT, "shards      %d%n", ckpt.shards().size());
        for (TensorFile f : ckpt.shards()) {
            out.printf(Locale.ROOT, "  %-40s %5d tensors  %s%n", Names.printable(f.path().getFileName()), f.tensors().size(), Bytes.human(f.fileSize()));
        }
        out.printf(Locale.ROOT, "tensors     %d%n", ckpt.tensorCount());
        out.printf(Locale.ROOT, "parameters  %,d (%s)%n", s.parameters(), Bytes.count(s.parameters()));
        for (Map.Entry<DType, long[]> e : s.perDtype().entrySet()) {
            out.printf(Locale.ROOT, "  %-8s %5d tensors  %,15d parameters  %s%n", e.getKey(), e.getValue()[0], e.getValue()[1],
                    Bytes.human(e.getValue()[2]));
        }
        out.printf(Locale.ROOT, "total size  %s (%,d bytes of tensor data)%n", Bytes.human(s.bytes()), s.bytes());
        if (tensors) {
            out.println();
            for (StoredTensor t : ckpt.tensors()) {
                TensorInfo i = t.info();
                out.printf(Locale.ROOT, "%-60s %-8s %-20s %s%n", Names.printable(i.name()), i.dtype(), i.shapeString(),
                        Names.printable(t.shard().path().getFileName()));
            }
        }
    }

    private ObjectNode toJson(Checkpoint ckpt, Summary s) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("model", ckpt.location().toString());
        ArrayNode shards = root.putArray("shards");
        for (TensorFile f : ckpt.shards()) {
            shards.addObject().put("file", f.path().getFileName().toString())
                    .put("tensors", f.tensors().size()).put("bytes", f.fileSize());
        }
        root.put("tensor_count", ckpt.tensorCount());
        root.put("parameters", s.parameters());
        root.put("total_bytes", s.bytes());
        ObjectNode dtypes = root.putObject("dtypes");
        s.perDtype().forEach((d, acc) -> dtypes.putObject(d.name())
                .put("tensors", acc[0]).put("parameters", acc[1]).put("bytes", acc[2]));
        if (tensors) {
            ArrayNode list = root.putArray("tensors");
            for (StoredTensor t : ckpt.tensors()) {
                ObjectNode n = list.addObject();
                n.put("name", t.name()).put("dtype", t.info().dtype().name());
                ArrayNode shape = n.putArray("shape");
                for (long d : t.info().shape()) shape.add(d);
                n.put("shard", t.shard().path().getFileName().toString());
            }
        }
        return root;
    }
}
