package io.mergestream.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.Names;
import io.mergestream.format.Json;
import io.mergestream.format.pack.PackFile;
import io.mergestream.format.pack.PackHeader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;

/** {@code mergestream inspect FT.mspack}: what a delta pack holds, from its header alone (no block is decoded). */
final class PackInspect {

    private PackInspect() {}

    static void print(PrintWriter out, Path path, boolean tensors, boolean json) {
        try (PackFile f = PackFile.open(path)) {
            PackHeader h = f.header();
            long deltas = 0, kept = 0, keptBytes = 0, modelBytes = 0, elements = 0;
            for (PackHeader.Entry e : h.tensors()) {
                modelBytes += e.elements() * e.dtype().byteSize();
                if (e.kind() == PackHeader.Kind.DELTA) {
                    deltas++;
                    kept += e.kept();
                    keptBytes += e.storedBytes();
                    elements += e.elements();
                }
            }
            double ratio = (double) f.fileBytes() / Math.max(1, modelBytes);
            double bits = kept == 0 ? 0 : 8.0 * keptBytes / kept;
            if (json) {
                ObjectNode o = Json.MAPPER.createObjectNode();
                o.put("format_version", h.version()).put("base", h.base()).put("model", h.model())
                        .put("strategy", h.strategy().word()).put("density", h.density())
                        .put("seed", Long.toUnsignedString(h.seed())).put("ordinal", h.ordinal()).put("rescale", h.rescale())
                        .put("tensors", h.tensors().size()).put("delta_tensors", deltas).put("pack_bytes", f.fileBytes())
                        .put("model_bytes", modelBytes).put("ratio", ratio).put("kept", kept).put("bits_per_kept", bits);
                ArrayNode files = o.putArray("files");
                h.files().forEach(c -> files.add(c.name()));
                if (tensors) {
                    ArrayNode ts = o.putArray("tensor_list");
                    for (PackHeader.Entry e : h.tensors()) {
                        ObjectNode t = ts.addObject().put("name", e.name()).put("kind", e.kind().name().toLowerCase(Locale.ROOT))
                                .put("dtype", e.dtype().headerName()).put("shape", e.shapeString())
                                .put("stored_bytes", e.storedBytes());
                        if (e.kind() == PackHeader.Kind.DELTA) t.put("kept", e.kept());
                    }
                }
                out.print(Json.pretty(o));
                return;
            }
            out.printf(Locale.ROOT, "delta pack  %s (format version %d, %s)%n", Names.printable(path.toString()), h.version(),
                    Bytes.human(f.fileBytes()));
            out.printf(Locale.ROOT, "base        %s (every base tensor it depends on is checked by xxHash64, block by block)%n",
                    Names.printable(h.base()));
            out.printf(Locale.ROOT, "model       %s%n", Names.printable(h.model()));
            out.printf(Locale.ROOT, "drawn       %s, density %s, seed %s, model ordinal %d, rescale %s%n", h.strategy().word(),
                    h.density(), Long.toUnsignedString(h.seed()), h.ordinal(), h.rescale());
            out.printf(Locale.ROOT, "tensors     %d (%d deltas, %d whole)%n", h.tensors().size(), deltas, h.tensors().size() - deltas);
            out.printf(Locale.ROOT, "kept        %d of %d delta elements (%.4f), %.2f bits per kept value%n", kept, elements,
                    (double) kept / Math.max(1, elements), bits);
            out.printf(Locale.ROOT, "size        %s for a %s model: %.4f of its size%n", Bytes.human(f.fileBytes()),
                    Bytes.human(modelBytes), ratio);
            out.printf(Locale.ROOT, "files       %s%n", h.files().isEmpty() ? "none"
                    : String.join(", ", h.files().stream().map(c -> Names.printable(c.name())).toList()));
            if (tensors) {
                for (PackHeader.Entry e : h.tensors()) {
                    out.printf(Locale.ROOT, "  %-60s %-5s %-5s %-18s %10s%s%n", Names.printable(e.name()),
                            e.kind().name().toLowerCase(Locale.ROOT), e.dtype(), e.shapeString(), Bytes.human(e.storedBytes()),
                            e.kind() == PackHeader.Kind.DELTA ? "  kept " + e.kept() : "");
                }
            }
        }
    }
}
