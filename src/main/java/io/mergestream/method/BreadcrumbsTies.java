package io.mergestream.method;

/** {@code breadcrumbs_ties}: breadcrumbs' outlier band followed by TIES sign election. */
public final class BreadcrumbsTies extends TaskArithmeticFamily {
    public BreadcrumbsTies() {
        super("breadcrumbs_ties", Sparsification.MAGNITUDE_OUTLIERS, true);
    }
}
