package io.mergestream.plan;

import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.method.MethodSettings;
import io.mergestream.method.TensorParams;
import io.mergestream.tensor.DType;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * The jobs of a plan without a record per job: a merge of 300,000 tensors (an MoE checkpoint) must plan within
 * the launcher's 128 MB heap, where a {@link TensorJob} with its list of sources, its shape and its
 * {@link TensorParams} took ~300 bytes a tensor. Held per job: the name (the reference model's, shared with it),
 * the output dtype, the kind and an index into the distinct parameters (a recipe without gradients resolves the
 * same parameters for every tensor: one object for all). A {@link TensorJob} is rebuilt on {@link #get} from
 * the models, whose tensors are found again by name.
 *
 * <p>Only jobs that rebuild exactly are held so: a copy of the reference's own tensor, or a merge of the
 * models' tensors of the job's name (the base's too, for methods that keep it apart) in the first input's
 * shape. Any other job (a tied lm_head, a decoded F64/FP8 or LoRA or vocabulary-remapped source, a truncated
 * vocabulary) is kept as it is, whole.
 */
final class PlannedJobs extends AbstractList<TensorJob> implements RandomAccess {

    private static final DType[] DTYPES = DType.values();
    private static final byte COPY = 0, MERGE = 1, MERGE_WITH_BASE = 2, KEPT = 3;

    private final InputModel reference;
    private final InputModel[] models;
    private String[] names = new String[64];
    private byte[] kinds = new byte[64];
    private byte[] dtypes = new byte[64];
    private int[] params = new int[64];
    private int size;
    private final Map<Integer, TensorJob> kept = new HashMap<>();
    private final List<TensorParams> distinct = new ArrayList<>();
    private final Map<ParamsKey, Integer> distinctIndex = new HashMap<>();
    private long[] totals;
    private int totalsAt;

    /**
     * @param reference the model whose tensors are copied (and, for methods that keep the base apart, the base)
     * @param models    the merged models, in job order
     */
    PlannedJobs(InputModel reference, List<InputModel> models) {
        this.reference = reference;
        this.models = models.toArray(InputModel[]::new);
    }

    @Override
    public boolean add(TensorJob job) {
        if (size == names.length) {
            int n = size * 2;
            names = Arrays.copyOf(names, n);
            kinds = Arrays.copyOf(kinds, n);
            dtypes = Arrays.copyOf(dtypes, n);
            params = Arrays.copyOf(params, n);
        }
        byte kind = kindOf(job);
        names[size] = job.name();
        kinds[size] = kind;
        dtypes[size] = (byte) job.outDtype().ordinal();
        if (kind == KEPT) {
            kept.put(size, job);
        } else if (kind != COPY) {
            params[size] = distinctIndex.computeIfAbsent(new ParamsKey(job.params()), k -> {
                distinct.add(job.params());
                return distinct.size() - 1;
            });
        }
        size++;
        modCount++;
        return true;
    }

    /** How {@code job} can be rebuilt from names alone, or {@link #KEPT} when it cannot. */
    private byte kindOf(TensorJob job) {
        String name = job.name();
        if (job.kind() == TensorJob.Kind.COPY) {
            TensorSource own = reference.tensor(name);
            return own != null && own.equals(job.source()) && own.info().sameShape(job.shape()) ? COPY : KEPT;
        }
        if (job.models().size() != models.length) return KEPT;
        TensorSource first = null;
        if (job.base() != null) {
            TensorSource own = reference.tensor(name);
            if (own == null || !own.equals(job.base())) return KEPT;
            first = own;
        }
        for (int j = 0; j < models.length; j++) {
            TensorSource t = models[j].tensor(name);
            if (t == null || !t.equals(job.models().get(j))) return KEPT;
            if (first == null) first = t;
        }
        return first.info().sameShape(job.shape()) ? (job.base() != null ? MERGE_WITH_BASE : MERGE) : KEPT;
    }

    @Override
    public TensorJob get(int i) {
        Objects.checkIndex(i, size);
        String name = names[i];
        DType dtype = DTYPES[dtypes[i]];
        switch (kinds[i]) {
            case COPY:
                return TensorJob.copy(name, dtype, reference.tensor(name));
            case MERGE:
            case MERGE_WITH_BASE: {
                TensorSource base = kinds[i] == MERGE_WITH_BASE ? reference.tensor(name) : null;
                TensorSource[] inputs = new TensorSource[models.length];
                for (int j = 0; j < models.length; j++) inputs[j] = models[j].tensor(name);
                TensorSource first = base != null ? base : inputs[0];
                return new TensorJob(name, dtype, first.info().shape(), TensorJob.Kind.MERGE, null, base,
                        List.of(inputs), distinct.get(params[i]));
            }
            default:
                return kept.get(i);
        }
    }

    @Override
    public int size() {
        return size;
    }

    /** {input bytes, output bytes} of all jobs, summed on first use after the last {@link #add}. */
    long[] totals() {
        long[] t = totals;
        if (t == null || totalsAt != modCount) {
            t = new long[2];
            for (TensorJob j : this) {
                t[0] += j.inputBytes();
                t[1] += j.outputBytes();
            }
            totals = t;
            totalsAt = modCount;
        }
        return t.clone();
    }

    /** TensorParams compared by content (the record's arrays compare by identity). */
    private record ParamsKey(TensorParams p) {
        @Override
        public boolean equals(Object o) {
            if (!(o instanceof ParamsKey(TensorParams q))) return false;
            return Arrays.equals(p.weights(), q.weights()) && Arrays.equals(p.densities(), q.densities())
                    && Arrays.equals(p.ordinals(), q.ordinals()) && p.rescale() == q.rescale()
                    && p.normalize() == q.normalize() && Float.floatToIntBits(p.lambda()) == Float.floatToIntBits(q.lambda())
                    && p.consensus() == q.consensus() && p.seed() == q.seed() && sameSettings(p.settings(), q.settings());
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(p.weights()), Arrays.hashCode(p.densities()), p.rescale(),
                    Float.floatToIntBits(p.lambda()), p.settings().numbers());
        }

        private static boolean sameSettings(MethodSettings a, MethodSettings b) {
            if (!a.numbers().equals(b.numbers()) || !a.flags().equals(b.flags()) || !a.words().equals(b.words())
                    || !a.perModel().keySet().equals(b.perModel().keySet())) {
                return false;
            }
            for (Map.Entry<String, double[]> e : a.perModel().entrySet()) {
                if (!Arrays.equals(e.getValue(), b.perModel().get(e.getKey()))) return false;
            }
            return true;
        }
    }
}
