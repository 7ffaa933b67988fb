package io.mergestream.testdata;

import io.mergestream.testdata.FamilySpec.Architecture;
import java.util.ArrayList;
import java.util.List;

/** The tensors of one model of a family, in checkpoint order, with how their values are initialised. */
final class ModelLayout {

    /** Initial distribution of a tensor: {@code mean + std * z}, z approximately standard normal. */
    enum Init {
        /** Linear and embedding weights, biases: N(0, 0.02), BERT's and Llama's {@code initializer_range}. */
        WEIGHT(0f, 0.02f),
        /** Norm scales: near 1.0, N(1, 0.02). */
        NORM(1f, 0.02f);

        final float mean;
        final float std;

        Init(float mean, float std) {
            this.mean = mean;
            this.std = std;
        }
    }

    /**
     * One tensor. {@code fresh} tensors exist only in this model (BERT's task head): they have no origin in the
     * base and are initialised from the model's own stream instead of base + delta.
     */
    record TensorSpec(String name, long[] shape, Init init, boolean fresh) {
        long elements() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    private ModelLayout() {}

    /** Tensors of model {@code k} (0 = base, k = fine-tune ftK). */
    static List<TensorSpec> tensors(FamilySpec s, int k) {
        return s.architecture() == Architecture.LLAMA ? llama(s) : bert(s, k);
    }

    private static List<TensorSpec> llama(FamilySpec s) {
        long h = s.hidden();
        long kv = h / s.heads() * s.kvHeads();
        long i = s.intermediate();
        List<TensorSpec> t = new ArrayList<>();
        t.add(w("model.embed_tokens.weight", s.vocab(), h));
        for (int n = 0; n < s.layers(); n++) {
            String p = "model.layers." + n + ".";
            t.add(w(p + "self_attn.q_proj.weight", h, h));
            t.add(w(p + "self_attn.k_proj.weight", kv, h));
            t.add(w(p + "self_attn.v_proj.weight", kv, h));
            t.add(w(p + "self_attn.o_proj.weight", h, h));
            t.add(w(p + "mlp.gate_proj.weight", i, h));
            t.add(w(p + "mlp.up_proj.weight", i, h));
            t.add(w(p + "mlp.down_proj.weight", h, i));
            t.add(norm(p + "input_layernorm.weight", h));
            t.add(norm(p + "post_attention_layernorm.weight", h));
        }
        t.add(norm("model.norm.weight", h));
        t.add(w("lm_head.weight", s.vocab(), h));
        return t;
    }

    private static List<TensorSpec> bert(FamilySpec s, int k) {
        long h = s.hidden();
        long i = s.intermediate();
        List<TensorSpec> t = new ArrayList<>();
        t.add(w("bert.embeddings.word_embeddings.weight", s.vocab(), h));
        t.add(w("bert.embeddings.position_embeddings.weight", s.positions(), h));
        t.add(w("bert.embeddings.token_type_embeddings.weight", 2, h));
        layerNorm(t, "bert.embeddings.LayerNorm", h);
        for (int n = 0; n < s.layers(); n++) {
            String p = "bert.encoder.layer." + n + ".";
            linear(t, p + "attention.self.query", h, h);
            linear(t, p + "attention.self.key", h, h);
            linear(t, p + "attention.self.value", h, h);
            linear(t, p + "attention.output.dense", h, h);
            layerNorm(t, p + "attention.output.LayerNorm", h);
            linear(t, p + "intermediate.dense", i, h);
            linear(t, p + "output.dense", h, i);
            layerNorm(t, p + "output.LayerNorm", h);
        }
        linear(t, "bert.pooler.dense", h, h);
        if (k > 0) {
            long labels = s.labelsOf(k);
            t.add(new TensorSpec("classifier.weight", new long[] {labels, h}, Init.WEIGHT, true));
            t.add(new TensorSpec("classifier.bias", new long[] {labels}, Init.WEIGHT, true));
        }
        return t;
    }

    private static TensorSpec w(String name, long rows, long cols) {
        return new TensorSpec(name, new long[] {rows, cols}, Init.WEIGHT, false);
    }

    private static TensorSpec norm(String name, long n) {
        return new TensorSpec(name, new long[] {n}, Init.NORM, false);
    }

    private static void linear(List<TensorSpec> t, String prefix, long out, long in) {
        t.add(w(prefix + ".weight", out, in));
        t.add(new TensorSpec(prefix + ".bias", new long[] {out}, Init.WEIGHT, false));
    }

    private static void layerNorm(List<TensorSpec> t, String prefix, long n) {
        t.add(norm(prefix + ".weight", n));
        t.add(new TensorSpec(prefix + ".bias", new long[] {n}, Init.WEIGHT, false));
    }
}
