package io.mergestream.plan;

import io.mergestream.MergestreamException;
import io.mergestream.format.DecodedTensor;
import io.mergestream.format.InputModel;
import io.mergestream.format.TensorSource;
import io.mergestream.tensor.DType;
import java.util.function.Supplier;

/**
 * The one place where a planner (recipe merges, slices, {@code mergestream dare}) finds a model's tensor and chooses
 * the {@link TensorSource} the kernels read: the tied-embedding fallback, and the decoding of float types the kernels
 * do not read (F64, FP8 with its scales). LoRA products and remapped vocabularies are sources chosen where their
 * models are opened (format.peft.LoraModel) and where the vocabulary is planned (tokenizer.VocabularyPlan).
 */
final class InputTensors {

    static final String LM_HEAD = "lm_head.weight";
    static final String TIED_EMBEDDING = "model.embed_tokens.weight";

    private InputTensors() {}

    /**
     * The model's tensor {@code name} as the kernels read it, or null when it has none. A missing
     * {@code lm_head.weight} is the input embedding (tied weights: the checkpoint stores it once). F64 and FP8 tensors
     * are decoded to f32 ({@link #readable}).
     */
    static TensorSource find(InputModel m, String name, Supplier<String> where) {
        TensorSource t = m.tensor(name);
        if (t == null && name.equals(LM_HEAD)) t = m.tensor(TIED_EMBEDDING);
        return t == null ? null : readable(m, t, where);
    }

    /**
     * {@code t} itself when the kernels read its dtype (F32, F16, BF16) or it is not a float; an F64 tensor decoded
     * to f32; an FP8 tensor decoded with its checkpoint's scale: {@code NAME_scale_inv} (DeepSeek-V3's 128x128 blocks)
     * or {@code NAME_scale} (one per tensor or per row). An FP8 tensor without a scale is an error naming it.
     */
    static TensorSource readable(InputModel m, TensorSource t, Supplier<String> where) {
        DType d = t.info().dtype();
        if (d == DType.F64) return DecodedTensor.f64(t);
        if (!d.isFp8()) return t;
        TensorSource blocks = m.tensor(t.name() + "_scale_inv");
        TensorSource scale = blocks != null ? blocks : m.tensor(t.name() + "_scale");
        if (scale == null) {
            throw new MergestreamException(where.get() + " tensor '" + t.name() + "' is " + d + " without a scale tensor ('"
                    + t.name() + "_scale_inv' or '" + t.name() + "_scale'), so its values are unknown");
        }
        String[] why = new String[1];
        DecodedTensor decoded = DecodedTensor.fp8(t, scale, blocks != null, why);
        if (decoded == null) throw new MergestreamException(where.get() + " tensor '" + t.name() + "' is " + d + ", but " + why[0]);
        return decoded;
    }

    /**
     * True for an FP8 weight's scale tensor ({@code X_scale_inv}, {@code X_scale} of an FP8 {@code X}, and its
     * activation scale {@code X.input_scale}): they are folded into the decoded weights, so the output, written in a
     * bf16/f16/f32 {@code out_dtype}, does not hold them.
     */
    static boolean isFp8Scale(InputModel m, String name) {
        for (String suffix : new String[] {"_scale_inv", "_scale"}) {
            if (name.endsWith(suffix)) {
                TensorSource w = m.tensor(name.substring(0, name.length() - suffix.length()));
                if (w != null && w.info().dtype().isFp8()) return true;
            }
        }
        if (name.endsWith(".input_scale")) {
            TensorSource w = m.tensor(name.substring(0, name.length() - ".input_scale".length()) + ".weight");
            return w != null && w.info().dtype().isFp8();
        }
        return false;
    }

    /** True when the model stores some FP8 tensor. */
    static boolean hasFp8(InputModel m) {
        for (TensorSource t : m.tensors()) if (t.info().dtype().isFp8()) return true;
        return false;
    }
}
