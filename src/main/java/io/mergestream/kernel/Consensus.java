package io.mergestream.kernel;

/** How the sign of each element is elected in TIES-style merges (merge-semantics.md, "sign_election"). */
public enum Consensus {
    /** No election: every model's contribution is added. */
    NONE,
    /** s = sign of sum_j t_j, where t_j = w_j * sparsify(delta_j) (mergekit's default). */
    WEIGHTED_SUM,
    /** s = sign of sum_j sparsify(delta_j), unweighted. */
    SUM,
    /** s = sign of sum_j sign(t_j): the majority of signs. */
    COUNT
}
