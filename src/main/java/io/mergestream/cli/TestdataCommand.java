package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.engine.Progress;
import io.mergestream.tensor.DType;
import io.mergestream.testdata.FamilyGenerator;
import io.mergestream.testdata.FamilySpec;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Writes a deterministic family of synthetic models (a base and fine-tunes) for tests and benchmarks. */
@Command(name = "testdata", mixinStandardHelpOptions = true,
        description = {"Writes a deterministic homologous model family: OUT/base and OUT/ft1 ... OUT/ftK "
                + "(safetensors, config.json, tokenizer stand-ins) and OUT/family.json.",
                "Same options and seed give byte-identical files, whatever the thread count."})
final class TestdataCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "OUT", description = "Output directory of the family.")
    Path out;

    @Option(names = "--arch", paramLabel = "llama|bert", defaultValue = "llama", completionCandidates = ArchWords.class,
            description = "Architecture (default: ${DEFAULT-VALUE}).")
    String arch;

    @Option(names = "--fine-tunes", paramLabel = "K", description = "Number of fine-tunes (default 3).")
    Integer fineTunes;

    @Option(names = "--dtype", paramLabel = "bf16|f16|f32", completionCandidates = DtypeWords.class,
            description = "Tensor dtype (default bf16 for llama, f32 for bert).")
    String dtype;

    @Option(names = "--layers", paramLabel = "N", description = "Hidden layers.")
    Integer layers;

    @Option(names = "--hidden", paramLabel = "N", description = "Hidden size.")
    Integer hidden;

    @Option(names = "--intermediate", paramLabel = "N", description = "MLP intermediate size.")
    Integer intermediate;

    @Option(names = "--vocab", paramLabel = "N", description = "Vocabulary size.")
    Integer vocab;

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads (hidden must be a multiple).")
    Integer heads;

    @Option(names = "--kv-heads", paramLabel = "N", description = "Llama key/value heads (default: --heads).")
    Integer kvHeads;

    @Option(names = "--positions", paramLabel = "N", description = "max_position_embeddings (BERT's position table rows).")
    Integer positions;

    @Option(names = "--size", paramLabel = "SIZE", converter = SharedOptions.SizeConverter.class,
            description = "Target tensor bytes per model, e.g. 1GB: picks hidden, intermediate, heads and layers "
                    + "(not combinable with those options).")
    Long size;

    @Option(names = "--deltas", paramLabel = "sft|large", defaultValue = "sft", completionCandidates = DeltasWords.class,
            description = "Fine-tune deltas: sft (Laplace, b=0.0015) or large (normal, median |delta| 0.03).")
    String deltas;

    @Option(names = "--unrelated-base", description = "Fine-tunes derive from another random base than the one written.")
    boolean unrelatedBase;

    @Mixin
    SharedOptions.ShardSize shardSize;

    @Option(names = "--shard-only", paramLabel = "MODEL", split = ",",
            description = "Apply --out-shard-size only to these models (e.g. ft2); the others are single files.")
    List<String> shardOnly = List.of();

    @Option(names = "--labels", paramLabel = "N", split = ",",
            description = "BERT fine-tune label counts, cycled (default 2,3,1 as SST-2, MNLI, STS-B).")
    List<Integer> labels;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    SharedOptions.Threads threads;

    @Mixin
    SharedOptions.Force force;

    @Mixin
    SharedOptions.Quiet quiet;

    @Spec
    CommandSpec spec;

    /** The dtypes the generator writes. */
    private static final List<DType> GENERATED_DTYPES = List.of(DType.BF16, DType.F16, DType.F32);

    /** Completion candidates and the error's list of choices: the architectures. */
    static final class ArchWords extends SharedOptions.Words {
        ArchWords() {
            super(lowerCase(FamilySpec.Architecture.values()));
        }
    }

    /** The delta kinds. */
    static final class DeltasWords extends SharedOptions.Words {
        DeltasWords() {
            super(lowerCase(FamilySpec.DeltaKind.values()));
        }
    }

    /** The dtypes, by their short names (bf16: the header name in lower case, which {@link DType#fromUserName} reads). */
    static final class DtypeWords extends SharedOptions.Words {
        DtypeWords() {
            super(GENERATED_DTYPES.stream().map(d -> d.headerName().toLowerCase(Locale.ROOT)).toList());
        }
    }

    @Override
    public Integer call() {
        FamilyGenerator gen;
        try {
            FamilySpec s = buildSpec();
            gen = new FamilyGenerator(s, threads.count);
        } catch (IllegalArgumentException e) {
            throw new MergestreamException("testdata: " + e.getMessage());
        }
        FamilySpec r = gen.spec();
        PrintWriter pw = spec.commandLine().getOut();
        pw.printf(Locale.ROOT, "%s family: %d layers, hidden %d, intermediate %d, vocab %d, heads %d/%d, %s, %s deltas%s, seed %d%n",
                r.architecture().name().toLowerCase(Locale.ROOT), r.layers(), r.hidden(), r.intermediate(), r.vocab(), r.heads(),
                r.kvHeads(), r.dtype().torchName(), r.deltas().name().toLowerCase(Locale.ROOT),
                r.unrelatedBase() ? ", unrelated base" : "", r.seed());
        pw.flush();
        long bytes = 0;
        int tensors = 0;
        for (String m : gen.modelNames()) {
            bytes += gen.layout(m).totalBytes();
            tensors += gen.tensors(m).size();
        }
        FamilyGenerator.Result res;
        try (Progress progress = new Progress(System.err, Terminal.progress(quiet.quiet), bytes, tensors)) {
            res = gen.generate(out, force.force, progress);
        }
        for (FamilyGenerator.ModelResult m : res.models()) {
            pw.printf(Locale.ROOT, "  %-6s %4d tensors  %3d shard%s  %s%n", m.name(), m.tensors(), m.shards(),
                    m.shards() == 1 ? " " : "s", Bytes.human(m.bytes()));
        }
        pw.printf(Locale.ROOT, "wrote %d models, %d tensors, %s (%,d bytes of tensor data) to %s in %.2f s (%s, %d threads)%n",
                res.models().size(), res.tensors(), Bytes.human(res.bytes()), res.bytes(), res.directory(),
                res.seconds(), Progress.rate(res.bytes() / Math.max(res.seconds(), 1e-9)), gen.threads());
        pw.flush();
        return 0;
    }

    FamilySpec buildSpec() {
        FamilySpec.Architecture a;
        try {
            a = FamilySpec.Architecture.parse(arch);
        } catch (IllegalArgumentException e) {
            throw new MergestreamException("--arch: expected " + new ArchWords().choices() + ", not '" + arch + "'");
        }
        FamilySpec s = FamilySpec.of(a);
        try {
            s = s.withDeltas(FamilySpec.DeltaKind.parse(deltas));
        } catch (IllegalArgumentException e) {
            throw new MergestreamException("--deltas: expected " + new DeltasWords().choices() + ", not '" + deltas + "'");
        }
        if (dtype != null) {
            DType d = DType.fromUserName(dtype).filter(GENERATED_DTYPES::contains)
                    .orElseThrow(() -> new MergestreamException("--dtype: expected " + new DtypeWords().choices() + ", not '"
                            + dtype + "'"));
            s = s.withDtype(d);
        }
        if (fineTunes != null) s = s.withFineTunes(fineTunes);
        if (vocab != null) s = s.withVocab(vocab);
        if (positions != null) s = s.withPositions(positions);
        if (labels != null) s = s.withLabels(labels);
        if (size != null) {
            if (layers != null || hidden != null || intermediate != null || heads != null || kvHeads != null) {
                throw new MergestreamException("--size picks layers, hidden, intermediate and heads: do not give them too");
            }
            s = s.withTargetBytes(size);
        } else {
            if (layers != null) s = s.withLayers(layers);
            if (hidden != null) s = s.withHidden(hidden);
            if (intermediate != null) s = s.withIntermediate(intermediate);
            if (heads != null) s = s.withHeads(heads);
            if (kvHeads != null) s = s.withKvHeads(kvHeads);
        }
        s = s.withUnrelatedBase(unrelatedBase).withShardBytes(shardSize.bytes)
                .withShardedModels(shardOnly).withSeed(seed);
        for (String m : shardOnly) {
            if (!s.modelNames().contains(m)) throw new MergestreamException("--shard-only: no model '" + m + "' in " + s.modelNames());
        }
        return s;
    }
}
