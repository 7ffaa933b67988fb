package io.mergestream.cli;

import io.mergestream.MergestreamException;
import io.mergestream.api.DareRequest;
import io.mergestream.api.MergeOptions;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The options several commands share, each declared once as a picocli mixin ({@code @Mixin}) with one help
 * text and a typed converter, so that a bad value is a parse error (one line and a pointer to --help) and the
 * help of {@code merge}, {@code dare}, {@code convert}, {@code delta-stats}, {@code diff} and {@code testdata}
 * cannot drift apart again (the --kernel help once listed {@code native} in merge and not in dare).
 */
final class SharedOptions {
    private SharedOptions() {}

    /** The library options of a command that writes an output directory (merge, dare, apply), from its mixins. */
    static MergeOptions.Builder outputRun(Threads threads, ChunkSize chunkSize, Kernel kernel, ShardSize shardSize,
                                          Force force) {
        return MergeOptions.builder().threads(threads.count).chunkElements(chunkSize.elements).kernel(kernel.kernel())
                .shardBytes(shardSize.bytes).replaceOutput(force.force);
    }

    /** {@code --threads N}: worker threads, at least 1. */
    static final class Threads {
        @Option(names = "--threads", paramLabel = "N", converter = PositiveInt.class,
                description = "Worker threads (default: all cores).")
        int count = Runtime.getRuntime().availableProcessors();
    }

    /** {@code -q/--quiet}: no progress display; the summary line and warnings are still printed. */
    static final class Quiet {
        @Option(names = {"-q", "--quiet"}, description = "No progress display (the summary line and warnings are still printed).")
        boolean quiet;
    }

    /** {@code --kernel KIND}: which kernel computes the merge. */
    static final class Kernel {
        @Option(names = "--kernel", paramLabel = "KIND", converter = KernelChoice.Converter.class,
                completionCandidates = KernelChoice.Candidates.class,
                description = "auto (default: vector where this JVM compiles it well, else scalar), vector, scalar, "
                        + "or native (the C yardstick, when built).")
        KernelChoice choice = KernelChoice.AUTO;

        /** The choice as the library takes it (which resolves it, and refuses one this JVM cannot run). */
        MergeOptions.Kernel kernel() {
            return MergeOptions.Kernel.valueOf(choice.name());
        }
    }

    /** {@code --seed S}: the DARE keep-mask seed, an unsigned 64-bit integer (a negative number gives its bits). */
    static final class Seed {
        @Option(names = "--seed", paramLabel = "S", converter = SeedConverter.class,
                description = "DARE keep-mask seed, 0 to 2^64-1 (default: a recipe's seed: key, else 0).")
        Long value;

        long orElse(long fallback) {
            return value != null ? value : fallback;
        }
    }

    /** {@code --out-shard-size SIZE}: the largest output shard, in bytes. */
    static final class ShardSize {
        @Option(names = "--out-shard-size", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "5GB",
                description = "Largest output shard (default 5GB; K/M/G/T decimal, KiB/MiB/GiB binary, or bytes).")
        long bytes;
    }

    /** {@code -o/--output OUT}: the output model directory. */
    static final class Output {
        @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "Output model directory.")
        Path path;
    }

    /** {@code --force}: may replace an earlier mergestream output. */
    static final class Force {
        @Option(names = "--force", description = "Replace an earlier mergestream output in OUT: only the files its "
                + ".mergestream-output.json lists; other files stay. Any other non-empty OUT is refused.")
        boolean force;
    }

    /** {@code --chunk-size ELEMENTS} (hidden): elements per chunk; the output is the same for any value. */
    static final class ChunkSize {
        @Option(names = "--chunk-size", paramLabel = "ELEMENTS", hidden = true, converter = PositiveInt.class,
                description = "Elements per chunk (output is identical for any value).")
        int elements = MergeOptions.defaults().chunkElements();
    }

    /** {@code --drop-rate P | --density D}: what DARE keeps (dare, pack). */
    static final class Density {
        @Option(names = "--drop-rate", paramLabel = "P", description = "Fraction of delta elements to drop, in [0, 1).")
        String dropRate;

        @Option(names = "--density", paramLabel = "D", description = "Fraction to keep, in (0, 1] (= 1 - drop rate).")
        String density;

        /** The density from exactly one of them (1 - P computed in decimal, then rounded once). */
        double value() {
            if ((dropRate == null) == (density == null)) {
                throw new MergestreamException("give exactly one of --drop-rate P and --density D");
            }
            BigDecimal d;
            try {
                d = density != null ? new BigDecimal(density.trim()) : BigDecimal.ONE.subtract(new BigDecimal(dropRate.trim()));
            } catch (NumberFormatException e) {
                throw new MergestreamException((density != null ? "--density '" + density : "--drop-rate '" + dropRate)
                        + "' is not a number");
            }
            if (d.signum() <= 0 || d.compareTo(BigDecimal.ONE) > 0) {
                throw new MergestreamException(density != null
                        ? "--density " + density + " is outside (0, 1]"
                        : "--drop-rate " + dropRate + " is outside [0, 1)");
            }
            return d.doubleValue();
        }
    }

    /** {@code --json}: machine-readable output on stdout. */
    static final class JsonOutput {
        @Option(names = "--json", description = "Print JSON for programs.")
        boolean json;
    }

    /** The kernels {@code --kernel} names; candidates for shell completion. */
    enum KernelChoice {
        AUTO, VECTOR, SCALAR, NATIVE;

        String word() {
            return name().toLowerCase(Locale.ROOT);
        }

        static final class Converter implements ITypeConverter<KernelChoice> {
            @Override
            public KernelChoice convert(String value) {
                for (KernelChoice k : values()) if (k.word().equals(value)) return k;
                throw new TypeConversionException("unknown kernel '" + value + "': choose " + String.join(", ", WORDS));
            }
        }

        static final class Candidates extends Words {
            Candidates() {
                super(WORDS);
            }
        }

        private static final List<String> WORDS = java.util.Arrays.stream(values()).map(KernelChoice::word).toList();
    }

    /**
     * The values of an option for shell completion ({@code completionCandidates}, which picocli instantiates:
     * one subclass per option, naming its words).
     */
    abstract static class Words implements Iterable<String> {
        private final List<String> words;

        Words(List<String> words) {
            this.words = List.copyOf(words);
        }

        @Override
        public java.util.Iterator<String> iterator() {
            return words.iterator();
        }

        /** The words as a message lists the choices: "a or b", "a, b or c". */
        String choices() {
            int last = words.size() - 1;
            return last == 0 ? words.get(0) : String.join(", ", words.subList(0, last)) + " or " + words.get(last);
        }

        /** The lower-case names of an enum's constants. */
        static List<String> lowerCase(Enum<?>[] values) {
            return java.util.Arrays.stream(values).map(Words::word).toList();
        }

        /** An enum constant's word: its name in lower case. */
        static String word(Enum<?> e) {
            return e.name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * An option whose values are an enum's constants in lower case (the library's DARE strategy, rescale and target):
     * its converter, which refuses any other word in one line listing them, and its completion candidates.
     */
    abstract static class EnumWords<E extends Enum<E>> extends Words implements ITypeConverter<E> {
        private final List<E> values;

        EnumWords(Class<E> type) {
            super(lowerCase(type.getEnumConstants()));
            values = List.of(type.getEnumConstants());
        }

        @Override
        public E convert(String value) {
            for (E e : values) if (word(e).equals(value.trim().toLowerCase(Locale.ROOT))) return e;
            throw new TypeConversionException("must be " + choices() + ", not '" + value + "'");
        }
    }

    /** {@code --strategy random|magnitude} (dare, pack). */
    static final class StrategyWords extends EnumWords<DareRequest.Strategy> {
        StrategyWords() {
            super(DareRequest.Strategy.class);
        }
    }

    /** {@code --rescale inverse|l1|none} (dare, pack, apply). */
    static final class RescaleWords extends EnumWords<DareRequest.Rescale> {
        RescaleWords() {
            super(DareRequest.Rescale.class);
        }
    }

    /** {@code --target delta|weights} (dare). */
    static final class TargetWords extends EnumWords<DareRequest.Target> {
        TargetWords() {
            super(DareRequest.Target.class);
        }
    }

    /** {@code --exclude REGEX} (dare, pack): compiled, a bad one refused in one line. */
    static final class RegexConverter implements ITypeConverter<Pattern> {
        @Override
        public Pattern convert(String value) {
            try {
                return Pattern.compile(value);
            } catch (PatternSyntaxException e) {
                throw new TypeConversionException("'" + value + "' is not a valid regex: " + e.getDescription());
            }
        }
    }

    /** A whole number of at least 1 (threads, chunk elements). */
    static final class PositiveInt implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            int n;
            try {
                n = Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + value + "' is not a whole number");
            }
            if (n < 1) throw new TypeConversionException("must be at least 1, not " + n);
            return n;
        }
    }

    /** 0 .. 2^64-1, or a negative long for the same bits (as mergekit's recipes are read). */
    static final class SeedConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim();
            try {
                return v.startsWith("-") ? Long.parseLong(v) : Long.parseUnsignedLong(v);
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + value + "' is not a whole number from 0 to 2^64-1");
            }
        }
    }

    /** Sizes as {@link io.mergestream.format.ShardSize} reads them (5GB, 500M, 2GiB, a byte count). */
    static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return io.mergestream.format.ShardSize.parse(value);
            } catch (MergestreamException e) {
                // the parser names --out-shard-size itself; picocli names the option the value was given to
                throw new TypeConversionException(e.getMessage().replaceFirst("^--out-shard-size: ", ""));
            }
        }
    }
}
