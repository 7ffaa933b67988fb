package io.mergestream.format.pack;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mergestream.Names;
import io.mergestream.format.FormatException;
import io.mergestream.format.ModelFiles;
import io.mergestream.tensor.DType;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The JSON header of a delta pack (docs/mspack.md), parsed and checked against the data section's size: every
 * length, offset and count is validated here, before any block is read, so a reader never follows a bad offset.
 * What a block holds is checked when it is decoded (its xxHash64 and its length against the keep-mask).
 */
public record PackHeader(int version, Strategy strategy, double density, long seed, int ordinal, String rescale,
                         int blockElements, String base, String model, List<CarriedFile> files, List<Entry> tensors) {

    /** The format version this build writes and the newest it reads. */
    public static final int VERSION = 1;
    /** The headers a pack may have: as safetensors' limit, so a pack header is never a memory bomb. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** Elements per block: one engine chunk, so a chunk's fill decodes exactly one block. */
    public static final int DEFAULT_BLOCK_ELEMENTS = 1 << 16;
    static final int MAX_BLOCK_ELEMENTS = 1 << 24;

    /** How the kept elements were chosen. */
    public enum Strategy {
        /** The DARE keep-mask (docs/dare-mask.md): positions are not stored. */
        RANDOM,
        /** The floor(density * n) largest |delta|: positions stored as a bitmap per block. */
        MAGNITUDE;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What a tensor entry holds. */
    public enum Kind {
        /** The kept delta elements of a float tensor the base has: base + kept = the fine-tune there. */
        DELTA,
        /** The tensor's own bytes (excluded, non-float, or a tensor the base lacks). */
        WHOLE
    }

    /** One stored block: {@code stored} bytes in the file ({@code == raw}: not compressed), its xxHash64 once decoded. */
    public record Block(long offset, int stored, int raw, long hash, long baseHash) {}

    /** A config or tokenizer file carried in the pack (stored as one block, lz4 unless that would not help). */
    public record CarriedFile(String name, Block block) {}

    /**
     * One tensor: name, its stored dtype and shape, and for a DELTA the base dtype it was drawn against, the kept
     * count and what the rescale rules need (Σ|delta| and Σ|kept| summed as mergekit's L1 rule sums them; the
     * magnitude threshold).
     */
    public record Entry(String name, Kind kind, DType dtype, long[] shape, DType baseDtype, long kept,
                        double l1Total, double l1Kept, int thresholdBits, long tieCutoff, List<Block> blocks) {

        public long elements() {
            return TensorInfo.elementCount(shape);
        }

        public long storedBytes() {
            long n = 0;
            for (Block b : blocks) n += b.stored();
            return n;
        }

        public String shapeString() {
            return new TensorInfo(name, dtype, shape, 0, 0).shapeString();
        }
    }

    private static final ObjectMapper MAPPER = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxStringLength((int) MAX_HEADER_BYTES).maxNameLength(1 << 16)
                    .maxDocumentLength(MAX_HEADER_BYTES).build())
            .build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** The header as JSON bytes (UTF-8), in the order docs/mspack.md shows. */
    public byte[] toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode o = f.objectNode();
        o.put("format", "mspack").put("version", version).put("dare_mask", 1)
                .put("strategy", strategy.word()).put("density", density).put("seed", Long.toUnsignedString(seed))
                .put("ordinal", ordinal).put("rescale", rescale).put("block_elements", blockElements)
                .put("base", base).put("model", model);
        ArrayNode fs = o.putArray("files");
        for (CarriedFile c : files) {
            ObjectNode e = fs.addObject().put("name", c.name());
            e.set("block", blockJson(c.block(), false));
            e.put("offset", c.block().offset());
        }
        ArrayNode ts = o.putArray("tensors");
        for (Entry t : tensors) {
            ObjectNode e = ts.addObject().put("name", t.name()).put("kind", t.kind().name().toLowerCase(Locale.ROOT))
                    .put("dtype", t.dtype().headerName());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            if (t.kind() == Kind.DELTA) {
                e.put("base_dtype", t.baseDtype().headerName()).put("kept", t.kept())
                        .put("l1_total", t.l1Total()).put("l1_kept", t.l1Kept());
                if (strategy == Strategy.MAGNITUDE) e.put("threshold_bits", t.thresholdBits()).put("tie_cutoff", t.tieCutoff());
            }
            e.put("offset", t.blocks().isEmpty() ? 0 : t.blocks().get(0).offset());
            ArrayNode bs = e.putArray("blocks");
            for (Block b : t.blocks()) bs.add(blockJson(b, t.kind() == Kind.DELTA));
        }
        try {
            return MAPPER.writeValueAsBytes(o);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static ArrayNode blockJson(Block b, boolean withBase) {
        ArrayNode a = JsonNodeFactory.instance.arrayNode().add(b.stored()).add(b.raw()).add(b.hash());
        if (withBase) a.add(b.baseHash());
        return a;
    }

    /**
     * Parses header bytes of a pack whose data section is {@code dataBytes} long. Throws {@link FormatException}
     * naming the file (and tensor) and the broken rule: a wrong type or a missing key, a version newer than this
     * build reads, a dtype or shape that is not legal, an element count or a block span that overflows, blocks
     * that are not contiguous, overlap or run past the end of the file.
     */
    public static PackHeader parse(Path file, byte[] json, long dataBytes) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (IOException e) {
            String msg = e instanceof com.fasterxml.jackson.core.JacksonException j ? j.getOriginalMessage() : e.getMessage();
            throw new FormatException(file, "pack header is not valid JSON: " + firstLine(msg));
        }
        if (root == null || !root.isObject()) throw new FormatException(file, "pack header is not a JSON object");
        Reader r = new Reader(file, null);
        if (!"mspack".equals(r.text(root, "format"))) throw new FormatException(file, "not a delta pack (format is not mspack)");
        int version = r.intIn(root, "version", 1, Integer.MAX_VALUE);
        if (version > VERSION) {
            throw new FormatException(file, "pack format version " + version + " is newer than this mergestream reads ("
                    + VERSION + "); upgrade mergestream");
        }
        if (r.intIn(root, "dare_mask", 1, Integer.MAX_VALUE) != 1) {
            throw new FormatException(file, "pack uses DARE keep-mask version " + root.get("dare_mask") + "; this mergestream has version 1");
        }
        Strategy strategy = switch (r.text(root, "strategy")) {
            case "random" -> Strategy.RANDOM;
            case "magnitude" -> Strategy.MAGNITUDE;
            default -> throw new FormatException(file, "pack strategy must be random or magnitude");
        };
        double density = r.number(root, "density");
        if (!(density > 0 && density <= 1)) throw new FormatException(file, "pack density " + density + " is outside (0, 1]");
        long seed;
        try {
            seed = Long.parseUnsignedLong(r.text(root, "seed"));
        } catch (NumberFormatException e) {
            throw new FormatException(file, "pack seed is not an unsigned 64-bit decimal");
        }
        int ordinal = r.intIn(root, "ordinal", 0, Integer.MAX_VALUE);
        String rescale = r.text(root, "rescale");
        if (!Set.of("inverse", "l1", "none").contains(rescale)) {
            throw new FormatException(file, "pack rescale must be inverse, l1 or none");
        }
        int blockElements = r.intIn(root, "block_elements", 1, MAX_BLOCK_ELEMENTS);
        String base = r.text(root, "base");
        String model = r.text(root, "model");
        Spans spans = new Spans(file, dataBytes);
        List<CarriedFile> files = new ArrayList<>();
        Set<String> fileNames = new HashSet<>();
        for (JsonNode f : r.array(root, "files")) {
            String name = r.text(f, "name");
            if (!isCarriedName(name)) {
                throw new FormatException(file, "pack carries a file named '" + Names.printable(name)
                        + "', which is not a config or tokenizer file");
            }
            if (!fileNames.add(name)) throw new FormatException(file, "pack carries '" + Names.printable(name) + "' twice");
            Reader fr = new Reader(file, "carried file " + name);
            List<Block> one = fr.blocks(List.of(r.node(f, "block")), fr.longIn(f, "offset", 0, Long.MAX_VALUE), false, spans);
            if (one.get(0).raw() > io.mergestream.InputFiles.MAX_JSON_BYTES) {
                throw new FormatException(file, "carried file '" + Names.printable(name) + "' is over the size limit");
            }
            files.add(new CarriedFile(name, one.get(0)));
        }
        List<Entry> tensors = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (JsonNode t : r.array(root, "tensors")) {
            String name = r.text(t, "name");
            if (!names.add(name)) throw new FormatException(file, "pack header has a duplicate tensor name: '" + Names.printable(name) + "'");
            tensors.add(entry(file, name.intern(), t, strategy, blockElements, spans));
        }
        if (spans.end != dataBytes) {
            throw new FormatException(file, "pack has " + (dataBytes - spans.end) + " bytes after its last block (not a pack this"
                    + " header describes)");
        }
        return new PackHeader(version, strategy, density, seed, ordinal, rescale, blockElements, base, model,
                List.copyOf(files), List.copyOf(tensors));
    }

    private static Entry entry(Path file, String name, JsonNode t, Strategy strategy, int blockElements, Spans spans) {
        Reader r = new Reader(file, name);
        Kind kind = switch (r.text(t, "kind")) {
            case "delta" -> Kind.DELTA;
            case "whole" -> Kind.WHOLE;
            default -> throw new FormatException(file, name, "kind must be delta or whole");
        };
        DType dtype = r.dtype(t, "dtype");
        JsonNode shapeNode = r.node(t, "shape");
        if (!shapeNode.isArray()) throw new FormatException(file, name, "shape is not an array");
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new FormatException(file, name, "shape holds " + d + ", not a non-negative integer");
            }
            shape[i] = d.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
                Math.multiplyExact(elements, (long) dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new FormatException(file, name, "shape " + shapeNode + " has more bytes than a file can hold");
            }
        }
        long blocks = (elements + blockElements - 1) / blockElements;
        DType baseDtype = null;
        long kept = 0;
        double l1Total = 0, l1Kept = 0;
        int thresholdBits = 0;
        long tieCutoff = 0;
        if (kind == Kind.DELTA) {
            if (!dtype.isMergeable()) throw new FormatException(file, name, "a delta's dtype must be F32, F16 or BF16, not " + dtype);
            baseDtype = r.dtype(t, "base_dtype");
            if (!baseDtype.isMergeable()) throw new FormatException(file, name, "base_dtype must be F32, F16 or BF16, not " + baseDtype);
            kept = r.longIn(t, "kept", 0, elements);
            l1Total = r.number(t, "l1_total");
            l1Kept = r.number(t, "l1_kept");
            if (!(l1Total >= 0) || !(l1Kept >= 0) || Double.isInfinite(l1Total) || Double.isInfinite(l1Kept)) {
                // NaN and infinite sums come from non-finite deltas: kept as JSON cannot say them, refused here
                throw new FormatException(file, name, "l1_total and l1_kept must be finite and non-negative");
            }
            if (strategy == Strategy.MAGNITUDE) {
                thresholdBits = (int) r.longIn(t, "threshold_bits", 0, Integer.MAX_VALUE);
                tieCutoff = r.longIn(t, "tie_cutoff", 0, Long.MAX_VALUE);
            }
        }
        long offset = r.longIn(t, "offset", 0, Long.MAX_VALUE);
        List<JsonNode> blockNodes = new ArrayList<>();
        for (JsonNode b : r.array(t, "blocks")) blockNodes.add(b);
        if (blockNodes.size() != blocks) {
            throw new FormatException(file, name, "has " + blockNodes.size() + " blocks, but " + elements + " elements in blocks of "
                    + blockElements + " need " + blocks);
        }
        List<Block> list = r.blocks(blockNodes, offset, kind == Kind.DELTA, spans);
        for (int i = 0; i < list.size(); i++) {
            long count = Math.min(blockElements, elements - (long) i * blockElements);
            long max = kind == Kind.WHOLE ? count * dtype.byteSize()
                    : count * dtype.byteSize() + (strategy == Strategy.MAGNITUDE ? (count + 7) / 8 : 0);
            int raw = list.get(i).raw();
            boolean ok = kind == Kind.WHOLE ? raw == max : raw <= max;
            if (!ok) {
                throw new FormatException(file, name, "block " + i + " decodes to " + raw + " bytes, but "
                        + count + " elements of " + dtype + " " + (kind == Kind.WHOLE ? "are " : "are at most ") + max);
            }
        }
        return new Entry(name, kind, dtype, shape, baseDtype, kept, l1Total, l1Kept, thresholdBits, tieCutoff, list);
    }

    /** The file names a pack may carry: the ones ModelFiles copies (no path can leave the extraction directory). */
    static boolean isCarriedName(String name) {
        if (name.equals(ModelFiles.CONFIG) || name.equals("generation_config.json")) return true;
        if (ModelFiles.TOKENIZER_FILES.contains(name) || ModelFiles.BASE_FILES.contains(name)) return true;
        String prefix = ModelFiles.ADDITIONAL_CHAT_TEMPLATES + "/";
        if (!name.startsWith(prefix)) return false;
        String rest = name.substring(prefix.length());
        return rest.endsWith(".jinja") && rest.length() > ".jinja".length() && rest.matches("[A-Za-z0-9_.-]+")
                && !rest.startsWith(".");
    }

    /** Data-section spans already claimed: blocks must be in file order, contiguous within a tensor, never overlap. */
    private static final class Spans {
        final Path file;
        final long dataBytes;
        long end;

        Spans(Path file, long dataBytes) {
            this.file = file;
            this.dataBytes = dataBytes;
        }
    }

    /** Typed reads of header values, each failure one line naming the file and tensor. */
    private record Reader(Path file, String tensor) {

        FormatException bad(String problem) {
            return tensor == null ? new FormatException(file, "pack header: " + problem) : new FormatException(file, tensor, problem);
        }

        JsonNode node(JsonNode o, String key) {
            JsonNode v = o.isObject() ? o.get(key) : null;
            if (v == null) throw bad("'" + key + "' is missing");
            return v;
        }

        String text(JsonNode o, String key) {
            JsonNode v = node(o, key);
            if (!v.isTextual()) throw bad("'" + key + "' is not a string");
            return v.textValue();
        }

        double number(JsonNode o, String key) {
            JsonNode v = node(o, key);
            if (!v.isNumber()) throw bad("'" + key + "' is not a number");
            return v.doubleValue();
        }

        long longIn(JsonNode o, String key, long min, long max) {
            JsonNode v = node(o, key);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
                throw bad("'" + key + "' is " + Names.printable(v.toString()) + ", not an integer in [" + min + ", " + max + "]");
            }
            return v.longValue();
        }

        int intIn(JsonNode o, String key, int min, int max) {
            return (int) longIn(o, key, min, max);
        }

        Iterable<JsonNode> array(JsonNode o, String key) {
            JsonNode v = node(o, key);
            if (!v.isArray()) throw bad("'" + key + "' is not an array");
            return v;
        }

        DType dtype(JsonNode o, String key) {
            String s = text(o, key);
            return DType.fromHeaderName(s).orElseThrow(() -> bad(key + " '" + Names.printable(s) + "' is not a safetensors dtype"));
        }

        /** Blocks stored back to back from {@code offset}, which must be where the previous entry's end. */
        List<Block> blocks(List<JsonNode> nodes, long offset, boolean withBase, Spans spans) {
            if (!nodes.isEmpty() && offset != spans.end) {
                throw bad("data starts at offset " + offset + ", but the previous entry ends at " + spans.end
                        + " (entries must be stored back to back, in header order)");
            }
            List<Block> out = new ArrayList<>(nodes.size());
            long pos = offset;
            int width = withBase ? 4 : 3;
            for (int i = 0; i < nodes.size(); i++) {
                JsonNode b = nodes.get(i);
                if (!b.isArray() || b.size() != width) {
                    throw bad("block " + i + " is not an array of " + width + " integers");
                }
                for (JsonNode x : b) {
                    if (!x.isIntegralNumber() || !x.canConvertToLong()) throw bad("block " + i + " holds " + Names.printable(x.toString()) + ", not an integer");
                }
                long stored = b.get(0).longValue(), raw = b.get(1).longValue();
                if (stored < 0 || raw < 0 || stored > Integer.MAX_VALUE - 8 || raw > Integer.MAX_VALUE - 8) {
                    throw bad("block " + i + " has a length outside [0, 2^31)");
                }
                if (stored > raw) throw bad("block " + i + " stores " + stored + " bytes for " + raw + " (more than uncompressed)");
                if (raw > 0 && stored == 0) throw bad("block " + i + " stores 0 bytes for " + raw);
                if (stored > spans.dataBytes - pos) {
                    throw bad("block " + i + " at offset " + pos + " (" + stored + " bytes) runs past the end of the "
                            + spans.dataBytes + "-byte data section (truncated?)");
                }
                out.add(new Block(pos, (int) stored, (int) raw, b.get(2).longValue(), withBase ? b.get(3).longValue() : 0));
                pos += stored;
            }
            if (!nodes.isEmpty()) spans.end = pos;
            return out;
        }
    }

    private static String firstLine(String s) {
        if (s == null) return "unreadable";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
