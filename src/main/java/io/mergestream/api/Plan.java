package io.mergestream.api;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a merge will do, from {@link Merge#plan()}: every output tensor with how it is made, and the totals. Made
 * after every check the run would make (recipe, checkpoints, shapes, parameters, and for
 * {@link Merge#plan(Path)} the output directory), without writing anything.
 *
 * @param method      the merge method, as the recipe names it
 * @param seed        the DARE mask seed (unsigned 64 bits in a long's bits)
 * @param base        the base model as the recipe names it, if the method has one
 * @param models      the merged models as the recipe names them, in fine-tune order
 * @param vocabulary  how vocabularies are merged ({@code tokenizer_source}, a {@code tokenizer:} block), if they are
 * @param configFile  the {@code config.json} the output's config is made from, if the config source has one
 * @param configSource the model whose config and tokenizer files the output gets
 * @param tensors     the output tensors, in the order a directory run writes them
 */
public record Plan(String method, long seed, Optional<String> base, List<String> models, Optional<String> vocabulary,
                   Optional<Path> configFile, Path configSource, List<Tensor> tensors) {

    /**
     * A plan.
     *
     * @param method       the merge method
     * @param seed         the seed
     * @param base         the base model
     * @param models       the merged models
     * @param vocabulary   the vocabulary merge
     * @param configFile   the config file
     * @param configSource the config source
     * @param tensors      the output tensors
     */
    public Plan {
        Objects.requireNonNull(method);
        models = List.copyOf(models);
        tensors = List.copyOf(tensors);
    }

    /**
     * One output tensor.
     *
     * @param name        its name
     * @param merged      true when the method combines models; false when it is copied from one input
     * @param inputDtype  the dtype of the input a copy reads (for a merge, the output's)
     * @param outputDtype its dtype in the output, as safetensors spells it ({@code BF16}, {@code F32}, ...)
     * @param shape       its shape
     * @param inputBytes  bytes read to make it
     * @param outputBytes its bytes in the output
     */
    public record Tensor(String name, boolean merged, String inputDtype, String outputDtype, long[] shape,
                         long inputBytes, long outputBytes) {

        /**
         * One planned tensor.
         *
         * @param name        its name
         * @param merged      merged or copied
         * @param inputDtype  the input's dtype
         * @param outputDtype the output's dtype
         * @param shape       its shape (copied)
         * @param inputBytes  bytes read
         * @param outputBytes bytes written
         */
        public Tensor {
            shape = shape.clone();
        }

        /**
         * A copy of the shape.
         *
         * @return a copy of the shape
         */
        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    /**
     * Input bytes the run reads.
     *
     * @return input bytes the run reads
     */
    public long inputBytes() {
        return tensors.stream().mapToLong(Tensor::inputBytes).sum();
    }

    /**
     * Bytes of output tensor data.
     *
     * @return bytes of output tensor data
     */
    public long outputBytes() {
        return tensors.stream().mapToLong(Tensor::outputBytes).sum();
    }

    /**
     * How many output tensors are merged (the rest are copied).
     *
     * @return how many output tensors are merged (the rest are copied)
     */
    public long mergedTensors() {
        return tensors.stream().filter(Tensor::merged).count();
    }
}
