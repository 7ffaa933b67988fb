package io.mergestream.analysis;

import io.mergestream.analysis.DeltaStats.Figures;
import io.mergestream.analysis.DeltaStats.LayerStats;
import io.mergestream.analysis.DeltaStats.Report;
import io.mergestream.analysis.DeltaStats.TensorStats;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;

/**
 * The self-contained HTML report of {@code delta-stats --html}: verdict and model-wide figures, the |delta|
 * distribution (log-spaced histogram with the 0.005 and 0.03 marks), median and p99 |delta| and relative
 * norm per layer, heat maps of tensor kind x layer, and the per-tensor table. Charts are inline SVG; no
 * script, no external resource.
 */
public final class DeltaReport {

    private static final int W = 760;
    private static final int H = 240;
    private static final int L = 60;  // left margin
    private static final int B = 36;  // bottom margin

    private DeltaReport() {}

    public static String html(Report r) {
        StringBuilder s = new StringBuilder();
        s.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>delta-stats: ")
                .append(esc(r.model().toString())).append("</title>\n<style>")
                .append("body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}")
                .append("table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}")
                .append("td:first-child,th:first-child{text-align:left}.verdict{padding:10px;background:#f3f6fb;border-left:4px solid #3b6fb6}")
                // a table wider than a narrow window scrolls by itself instead of widening the page
                .append(".wide{overflow-x:auto}")
                .append("svg{display:block;margin:8px 0 20px;height:auto}text{font:11px system-ui,sans-serif}</style></head><body>\n");
        s.append("<h1>Delta statistics</h1>\n<p>base <code>").append(esc(r.base().toString()))
                .append("</code><br>model <code>").append(esc(r.model().toString())).append("</code></p>\n");
        s.append("<p class=\"verdict\"><b>").append(esc(r.verdict().kind().name())).append("</b>: ")
                .append(esc(r.verdict().summary())).append("</p>\n");
        Figures o = r.overall();
        s.append("<div class=\"wide\"><table><tr><th>whole model</th><th>elements</th><th>mean</th><th>std</th><th>p50 |d|</th><th>p90 |d|</th>")
                .append("<th>p99 |d|</th><th>max |d|</th><th>|d|&le;0.005</th><th>|d|&le;0.03</th><th>cosine</th><th>rel. norm</th></tr>\n");
        s.append(row("all compared tensors", o)).append("</table></div>\n");
        s.append(String.format(Locale.ROOT, "<p>Element-weighted mean of the per-tensor cosine(model, base): %.4f; of the "
                + "relative norm ||delta||/||base||: %.4f. Quantiles are read from a log-spaced histogram: within %.2f%% of "
                + "the true value; max is exact.</p>\n", r.weightedCosine(), r.weightedRelativeNorm(),
                100 * AbsHistogram.RELATIVE_ERROR));

        s.append("<h2>Distribution of |delta|</h2>\n").append(histogram(r.histogram(), o.elements()));
        if (!r.layers().isEmpty()) {
            s.append("<h2>Per layer</h2>\n<p>Median (solid) and p99 (dashed) |delta| of each layer, log scale.</p>\n");
            s.append(layerChart(r.layers(), List.of(f -> f.p50(), f -> f.p99()), true));
            s.append("<p>Relative norm ||delta||/||base|| of each layer.</p>\n");
            s.append(layerChart(r.layers(), List.of(Figures::relativeNorm), false));
            s.append("<h2>Where the fine-tune lives: tensor kind &times; layer</h2>\n<p>Median |delta|:</p>\n");
            s.append(heatmap(r.tensors(), Figures::p50, "median |delta|", "half the deltas or more are 0", "heat-p50"));
            s.append("<p>Relative norm ||delta||/||base||:</p>\n")
                    .append(heatmap(r.tensors(), Figures::relativeNorm, "relative norm", "the tensor equals the base", "heat-norm"));
        }
        s.append("<h2>Tensors</h2>\n<div class=\"wide\"><table><tr><th>tensor</th><th>elements</th><th>mean</th><th>std</th><th>p50 |d|</th>")
                .append("<th>p90 |d|</th><th>p99 |d|</th><th>max |d|</th><th>|d|&le;0.005</th><th>|d|&le;0.03</th>")
                .append("<th>cosine</th><th>rel. norm</th></tr>\n");
        for (TensorStats t : r.tensors()) s.append(row(t.name(), t.figures()));
        s.append("</table></div>\n");
        if (!r.skipped().isEmpty()) {
            s.append("<h2>Not compared</h2>\n<ul>");
            for (DeltaStats.Skipped k : r.skipped()) {
                s.append("<li><code>").append(esc(k.name())).append("</code>: ").append(esc(k.reason())).append("</li>");
            }
            s.append("</ul>\n");
        }
        s.append("<p>Thresholds and their reasons: docs/delta-stats.md.</p>\n</body></html>\n");
        return s.toString();
    }

    private static String row(String name, Figures f) {
        return String.format(Locale.ROOT, "<tr><td>%s</td><td>%d</td><td>%.3g</td><td>%.3g</td><td>%.3g</td><td>%.3g</td>"
                        + "<td>%.3g</td><td>%.3g</td><td>%.1f%%</td><td>%.1f%%</td><td>%.4f</td><td>%.4f</td></tr>\n",
                esc(name), f.elements(), f.mean(), f.std(), f.p50(), f.p90(), f.p99(), f.max(), 100 * f.withinSmall(),
                100 * f.withinLarge(), f.cosine(), f.relativeNorm());
    }

    /** Bars of the fraction of elements per 1/16 octave, on a log |delta| axis; zeros reported apart. */
    private static String histogram(AbsHistogram h, long n) {
        final int group = AbsHistogram.SUB_BINS / 16;
        List<double[]> bars = new ArrayList<>(); // lo, hi, fraction
        for (int b = 1; b < AbsHistogram.BINS - 1; b += group) {
            long c = 0;
            for (int k = b; k < b + group; k++) c += h.count(k);
            if (c > 0) bars.add(new double[] {AbsHistogram.lower(b), AbsHistogram.upper(b + group - 1), (double) c / n});
        }
        StringBuilder s = new StringBuilder();
        long tiny = h.count(0);
        if (bars.isEmpty()) return "<p>Every |delta| is below 2^-40.</p>\n";
        double x0 = Math.log10(Math.min(bars.get(0)[0], 1e-4));
        double x1 = Math.log10(Math.max(bars.get(bars.size() - 1)[1], 0.1));
        double ymax = bars.stream().mapToDouble(v -> v[2]).max().orElse(1);
        s.append(svgOpen());
        for (double[] v : bars) {
            double xa = x(Math.log10(v[0]), x0, x1);
            double xb = x(Math.log10(v[1]), x0, x1);
            double hgt = (H - B - 10) * v[2] / ymax;
            s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"#3b6fb6\"/>",
                    xa, H - B - hgt, Math.max(0.5, xb - xa), hgt));
        }
        for (int e = (int) Math.ceil(x0); e <= Math.floor(x1); e++) {
            double xe = x(e, x0, x1);
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%d</text>", xe, H - B, xe, H - B + 4, xe, H - B + 16, e));
        }
        for (double mark : new double[] {DeltaStats.SMALL, DeltaStats.LARGE}) {
            double xm = x(Math.log10(mark), x0, x1);
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"10\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c33\" "
                    + "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"20\" fill=\"#c33\">%s</text>", xm, xm, H - B, xm + 3, mark));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">|delta| (log scale); bar "
                + "height = fraction of elements per 1/16 octave, highest %.2f%%</text>", (W + L) / 2, H - 4, 100 * ymax));
        s.append(axes()).append("</svg>\n");
        if (tiny > 0) {
            s.append(String.format(Locale.ROOT, "<p>%.2f%% of the deltas are 0 (or below 2^-40), not drawn.</p>\n",
                    100.0 * tiny / n));
        }
        return s.toString();
    }

    private static String layerChart(List<LayerStats> layers, List<ToDoubleFunction<Figures>> series, boolean log) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (LayerStats l : layers) {
            for (ToDoubleFunction<Figures> f : series) {
                double v = f.applyAsDouble(l.figures());
                if (!Double.isFinite(v) || (log && v <= 0)) continue;
                double t = log ? Math.log10(v) : v;
                lo = Math.min(lo, t);
                hi = Math.max(hi, t);
            }
        }
        // A log scale cannot show 0: the layers with a 0 are named under the chart instead of vanishing from it.
        TreeSet<Integer> zeros = new TreeSet<>();
        if (log) {
            for (LayerStats l : layers) {
                for (ToDoubleFunction<Figures> f : series) if (f.applyAsDouble(l.figures()) == 0) zeros.add(l.layer());
            }
        }
        String zeroNote = zeros.isEmpty() ? "" : "<p class=\"zeros\">Value 0 (not drawn on the log scale) in layer"
                + (zeros.size() > 1 ? "s " : " ") + zeros.toString().replaceAll("[\\[\\]]", "") + ".</p>\n";
        if (!Double.isFinite(lo)) return zeros.isEmpty() ? "<p>(no finite values)</p>\n" : zeroNote;
        if (!log) lo = 0;
        if (hi - lo < 1e-12) hi = lo + (log ? 1 : Math.max(1e-12, Math.abs(lo)));
        int n = layers.size();
        StringBuilder s = new StringBuilder(svgOpen());
        String[] dash = {"", " stroke-dasharray=\"5 4\""};
        for (int k = 0; k < series.size(); k++) {
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < n; i++) {
                double v = series.get(k).applyAsDouble(layers.get(i).figures());
                if (!Double.isFinite(v) || (log && v <= 0)) continue;
                double t = log ? Math.log10(v) : v;
                double px = L + 10 + (n == 1 ? 0 : (W - L - 30) * (double) i / (n - 1));
                double py = H - B - (H - B - 15) * (t - lo) / (hi - lo);
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
                s.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#3b6fb6\"/>", px, py));
            }
            s.append("<polyline fill=\"none\" stroke=\"#3b6fb6\" stroke-width=\"1.5\"").append(dash[k % 2])
                    .append(" points=\"").append(pts).append("\"/>");
        }
        for (int i = 0; i < n; i += Math.max(1, n / 16)) {
            double px = L + 10 + (n == 1 ? 0 : (W - L - 30) * (double) i / (n - 1));
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>", px, H - B + 16,
                    layers.get(i).layer()));
        }
        s.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\">%s</text><text x=\"4\" y=\"16\">%s</text>", H - B,
                label(lo, log), label(hi, log)));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">layer</text>", (W + L) / 2, H - 4));
        s.append(axes()).append("</svg>\n").append(zeroNote);
        return s.toString();
    }

    /** Width of a character of the 11 px chart font, generously (system-ui averages about 6 px): for the layout. */
    static final double CHAR_W = 6.6;
    /** The fill of a cell whose value is exactly 0, and of the legend's swatch for it. */
    static final String ZERO_FILL = "#d9d9d9";
    private static final String NON_FINITE_FILL = "#f4c7c3";

    /**
     * Rows: tensor kinds, columns: layers; colour: log of the value between the table's min and max, explained by
     * a colour bar. A cell whose value is 0 (log undefined) is grey and says "0", a non-finite one "?";
     * a kind missing from a layer stays blank, and the legend says what each means. The drawing's size follows
     * the names and the number of layers, and every label, the legend included, lies inside its viewBox
     * (a small model's heat map is narrower than its legend: the viewBox is as wide as the wider of the two).
     */
    private static String heatmap(List<TensorStats> tensors, ToDoubleFunction<Figures> value, String what, String zeroMeans,
            String id) {
        TreeSet<Integer> layers = new TreeSet<>();
        Map<String, Map<Integer, Double>> cells = new LinkedHashMap<>();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        int longestKind = 0;
        for (TensorStats t : tensors) {
            if (t.layer() < 0) continue;
            double v = value.applyAsDouble(t.figures());
            layers.add(t.layer());
            cells.computeIfAbsent(t.kind(), k -> new LinkedHashMap<>()).put(t.layer(), v);
            longestKind = Math.max(longestKind, t.kind().length());
            if (Double.isFinite(v) && v > 0) {
                lo = Math.min(lo, Math.log10(v));
                hi = Math.max(hi, Math.log10(v));
            }
        }
        if (cells.isEmpty()) return "";
        boolean anyPositive = Double.isFinite(lo);
        if (!anyPositive) lo = hi = 0;
        if (hi - lo < 1e-9) hi = lo + 1;
        boolean anyZero = false, anyNonFinite = false, anyMissing = false;
        for (Map<Integer, Double> row : cells.values()) {
            anyMissing |= row.size() < layers.size();
            for (double v : row.values()) {
                anyZero |= v == 0;
                anyNonFinite |= !Double.isFinite(v);
            }
        }
        int labelW = Math.max(textWidth("layer ->"), (int) Math.ceil(CHAR_W * longestKind)) + 16;
        int cw = Math.max(8, Math.min(40, (W - labelW - 10) / layers.size()));
        int ch = 16;
        int gridX = labelW;
        int gridW = cw * layers.size();
        StringBuilder body = new StringBuilder();
        int row = 0;
        for (Map.Entry<String, Map<Integer, Double>> e : cells.entrySet()) {
            int y = 10 + row * ch;
            body.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", labelW - 8,
                    y + 12, esc(e.getKey())));
            int col = 0;
            for (int l : layers) {
                Double v = e.getValue().get(l);
                int x = gridX + col * cw;
                if (v != null) {
                    // %.3g writes 0 as "0.00"
                    String title = String.format(Locale.ROOT, "<title>%s layer %d: %s %s</title>", esc(e.getKey()), l,
                            what, v == 0 ? "0" : String.format(Locale.ROOT, "%.3g", v));
                    if (Double.isFinite(v) && v > 0) {
                        double t = (Math.log10(v) - lo) / (hi - lo);
                        body.append(cell(x, y, cw, ch, colour(t), title, null));
                    } else {
                        body.append(cell(x, y, cw, ch, v == 0 ? ZERO_FILL : NON_FINITE_FILL, title, v == 0 ? "0" : "?"));
                    }
                }
                col++;
            }
            row++;
        }
        int y = 10 + row * ch;
        int col = 0;
        for (int l : layers) {
            if (col % Math.max(1, layers.size() / 16) == 0) {
                body.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>",
                        gridX + col * cw + cw / 2, y + 14, l));
            }
            col++;
        }
        body.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">layer &#8594;</text>",
                labelW - 8, y + 14));
        int right = gridX + gridW;
        // The legend, under the grid: the colour bar with its scale, then one line per kind of cell drawn without a colour.
        y += 28;
        int barW = 240;
        List<String[]> notes = new ArrayList<>(); // {swatch: "0", "?", "blank" or "", text}
        if (anyPositive) {
            String caption = what + ", log scale";
            body.append(String.format(Locale.ROOT, "<defs><linearGradient id=\"%s\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">", id));
            for (int k = 0; k <= 4; k++) {
                body.append(String.format(Locale.ROOT, "<stop offset=\"%.2f\" stop-color=\"%s\"/>", k / 4.0, colour(k / 4.0)));
            }
            body.append("</linearGradient></defs>");
            body.append(String.format(Locale.ROOT, "<rect class=\"colour-bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" "
                    + "fill=\"url(#%s)\" stroke=\"#888\" stroke-width=\"0.5\"/>", gridX, y, barW, id));
            String[] ticks = ticks(Math.pow(10, lo), Math.pow(10, (lo + hi) / 2), Math.pow(10, hi));
            for (int k = 0; k <= 2; k++) {
                double xk = gridX + barW * k / 2.0;
                String anchor = k == 0 ? "start" : k == 1 ? "middle" : "end";
                body.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>"
                        + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>", xk, y + 12, xk, y + 16, xk,
                        y + 27, anchor, ticks[k]));
            }
            body.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>", gridX + barW + 8, y + 10,
                    esc(caption)));
            right = Math.max(right, gridX + barW + 8 + textWidth(caption));
            y += 46;
        } else {
            notes.add(new String[] {"", "every value is 0: no colour scale"});
        }
        if (anyZero) notes.add(new String[] {"0", what + " is 0: " + zeroMeans});
        if (anyNonFinite) notes.add(new String[] {"?", "not finite (NaN or infinite deltas: see the table)"});
        if (anyMissing) notes.add(new String[] {"blank", "the layer has no tensor of that kind"});
        for (String[] note : notes) {
            switch (note[0]) {
                case "0" -> body.append(cell(gridX, y - 11, 16, ch, ZERO_FILL, "", "0"));
                case "?" -> body.append(cell(gridX, y - 11, 16, ch, NON_FINITE_FILL, "", "?"));
                case "blank" -> body.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"15\" height=\"%d\" "
                        + "fill=\"none\" stroke=\"#bbb\"/>", gridX, y - 11, ch - 1));
                default -> { }
            }
            int textX = gridX + (note[0].isEmpty() ? 0 : 22);
            body.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>", textX, y + 1, esc(note[1])));
            right = Math.max(right, textX + textWidth(note[1]));
            y += 20;
        }
        int width = right + 10;
        int height = y;
        return String.format(Locale.ROOT, "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                + "width=\"100%%\" style=\"max-width:%dpx\">", width, height, width) + body + "</svg>\n";
    }

    /** The values with as few significant digits (2 to 6) as tell them apart: a narrow scale needs more. */
    static String[] ticks(double... values) {
        String[] out = new String[values.length];
        for (int digits = 2; digits <= 6; digits++) {
            for (int i = 0; i < values.length; i++) out[i] = String.format(Locale.ROOT, "%." + digits + "g", values[i]);
            if (java.util.Arrays.stream(out).distinct().count() == out.length) break;
        }
        return out;
    }

    /** A heat-map cell; {@code label}, when not null, written in it (the cells without a colour). */
    private static String cell(int x, int y, int cw, int ch, String fill, String title, String label) {
        String rect = String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">%s</rect>",
                x, y, cw - 1, ch - 1, fill, title);
        if (label == null) return rect;
        return rect + String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"9\" "
                + "fill=\"#444\">%s</text>", x + (cw - 1) / 2.0, y + 11, label);
    }

    /** The estimated width of {@code text} in the 11 px chart font (an upper bound for the layout). */
    static int textWidth(String text) {
        return (int) Math.ceil(CHAR_W * text.length());
    }

    /** White-yellow to dark blue. */
    private static String colour(double t) {
        t = Math.max(0, Math.min(1, t));
        int r = (int) Math.round(255 * (1 - t) + 20 * t);
        int g = (int) Math.round(247 * (1 - t) + 50 * t);
        int b = (int) Math.round(200 * (1 - t) + 130 * t);
        return String.format(Locale.ROOT, "#%02x%02x%02x", r, g, b);
    }

    /** A chart drawn in W x H units and scaled to the page's width (its height follows). */
    private static String svgOpen() {
        return String.format(Locale.ROOT, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                + "width=\"100%%\">", W, H);
    }

    private static String axes() {
        return String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#222\"/>"
                + "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"#222\"/>", L, H - B, W - 10, H - B, L, L, H - B);
    }

    private static double x(double logValue, double x0, double x1) {
        return L + (W - L - 20) * (logValue - x0) / (x1 - x0);
    }

    private static String label(double v, boolean log) {
        return String.format(Locale.ROOT, "%.2g", log ? Math.pow(10, v) : v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
