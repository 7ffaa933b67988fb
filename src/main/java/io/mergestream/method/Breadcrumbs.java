package io.mergestream.method;

/** {@code breadcrumbs}: drop the largest |delta| as outliers (gamma) and the smallest, keep the band between (Davari and Belilovsky, Model Breadcrumbs). */
public final class Breadcrumbs extends TaskArithmeticFamily {
    public Breadcrumbs() {
        super("breadcrumbs", Sparsification.MAGNITUDE_OUTLIERS, false);
    }
}
