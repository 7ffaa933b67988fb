package io.mergestream.method;

import java.util.List;
import java.util.Optional;

/** The merge methods mergestream implements, by the name recipes use. */
public final class Methods {

    private static final List<MergeMethod> ALL = List.of(
            new Linear(), new TaskArithmetic(), new Ties(), new DareLinear(), new DareTies(),
            new Breadcrumbs(), new BreadcrumbsTies(), new DellaLinear(), new Della(),
            new Sce(), Ram.ram(), Ram.plusTensorLocal(),
            new Slerp(), new NuSlerp(), new MultiSlerp(), new Karcher(), new ModelStock(), new NearSwap(),
            new ArceeFusion(), new Passthrough());

    private Methods() {}

    public static Optional<MergeMethod> byName(String name) {
        return ALL.stream().filter(m -> m.name().equals(name)).findFirst();
    }

    public static List<MergeMethod> all() {
        return ALL;
    }
}
