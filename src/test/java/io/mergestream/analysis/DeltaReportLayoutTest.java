package io.mergestream.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mergestream.TestModels;
import io.mergestream.analysis.DeltaStats.TensorStats;
import io.mergestream.tensor.DType;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

/**
 * The layout facts of the delta-stats HTML report that a browser shows (bench/report-screenshots.sh renders it
 * in chromium), checked on the SVG itself so that a regression fails without a browser: on a small model every
 * heat-map label and its legend lie inside the drawing's viewBox, the colour scale has a colour bar whose ends
 * are the smallest and largest value drawn, a cell whose value is 0 is drawn and says "0", a log chart names
 * the layers whose 0 it cannot draw, and every chart's width is relative to the page.
 *
 * <p>The model: two layers; layer 0 with two changed kinds and an unchanged one, layer 1 unchanged and
 * without {@code self_attn.k_proj.weight} (a blank cell).
 */
class DeltaReportLayoutTest {

    static final String UP0 = "model.layers.0.mlp.up_proj.weight";
    static final String Q0 = "model.layers.0.self_attn.q_proj.weight";
    static final String K0 = "model.layers.0.self_attn.k_proj.weight";
    static final String UP1 = "model.layers.1.mlp.up_proj.weight";
    static final String Q1 = "model.layers.1.self_attn.q_proj.weight";

    @TempDir
    static Path dir;

    static DeltaStats.Report report;
    static String html;
    static List<Element> svgs = new ArrayList<>();

    @BeforeAll
    static void write() throws Exception {
        Random rnd = new Random(5);
        float[] up0 = ToolboxDeltaStatsTest.gaussian(rnd, 600, 0.02f);
        float[] q0 = ToolboxDeltaStatsTest.gaussian(rnd, 400, 0.02f);
        float[] k0 = ToolboxDeltaStatsTest.gaussian(rnd, 400, 0.02f);
        float[] up1 = ToolboxDeltaStatsTest.gaussian(rnd, 600, 0.02f);
        float[] q1 = ToolboxDeltaStatsTest.gaussian(rnd, 400, 0.02f);
        TestModels.write(dir.resolve("base"), DType.F32, new TestModels.Model().put(UP0, new long[] {600}, up0)
                .put(Q0, new long[] {400}, q0).put(K0, new long[] {400}, k0).put(UP1, new long[] {600}, up1)
                .put(Q1, new long[] {400}, q1));
        TestModels.write(dir.resolve("ft"), DType.F32, new TestModels.Model()
                .put(UP0, new long[] {600}, ToolboxDeltaStatsTest.perturb(rnd, up0))
                .put(Q0, new long[] {400}, ToolboxDeltaStatsTest.perturb(rnd, q0)).put(K0, new long[] {400}, k0)
                .put(UP1, new long[] {600}, up1).put(Q1, new long[] {400}, q1));
        report = ToolboxDeltaStatsTest.compute(dir.resolve("base"), dir.resolve("ft"), 1, 64, 1);
        html = DeltaReport.html(report);
        Matcher m = Pattern.compile("<svg.*?</svg>", Pattern.DOTALL).matcher(html);
        var builder = DocumentBuilderFactory.newInstance().newDocumentBuilder();
        while (m.find()) svgs.add(builder.parse(new InputSource(new StringReader(m.group()))).getDocumentElement());
    }

    static List<Element> heatmaps() {
        List<Element> out = svgs.stream().filter(s -> s.getAttribute("class").equals("heatmap")).toList();
        assertEquals(2, out.size(), "two heat maps: median |delta| and relative norm");
        return out;
    }

    static double[] viewBox(Element svg) {
        String[] v = svg.getAttribute("viewBox").trim().split("\\s+");
        assertEquals(4, v.length, "a viewBox: " + svg.getAttribute("viewBox"));
        return new double[] {Double.parseDouble(v[2]), Double.parseDouble(v[3])};
    }

    static List<Element> all(Element e, String tag) {
        NodeList n = e.getElementsByTagName(tag);
        List<Element> out = new ArrayList<>();
        for (int i = 0; i < n.getLength(); i++) out.add((Element) n.item(i));
        return out;
    }

    static double num(Element e, String attribute, double otherwise) {
        String v = e.getAttribute(attribute);
        return v.isEmpty() ? otherwise : Double.parseDouble(v);
    }

    @Test
    void everyHeatMapLabelAndTheLegendLieInsideTheViewBox() {
        for (Element svg : heatmaps()) {
            double[] box = viewBox(svg);
            double gridRight = 0;
            for (Element r : all(svg, "rect")) {
                double x = num(r, "x", 0), y = num(r, "y", 0);
                double w = num(r, "width", 0), h = num(r, "height", 0);
                assertTrue(x >= 0 && y >= 0 && x + w <= box[0] && y + h <= box[1], "a rect outside the viewBox "
                        + box[0] + " x " + box[1] + ": x " + x + " y " + y + " w " + w + " h " + h);
                if (!r.getTextContent().isEmpty()) gridRight = Math.max(gridRight, x + w); // the cells have titles
            }
            double widestRight = 0;
            for (Element t : all(svg, "text")) {
                String text = t.getTextContent();
                double size = num(t, "font-size", 11);
                // the estimate the layout uses, checked here against the box (a glyph of the 11 px font averages
                // about 6 px; DeltaReport.CHAR_W is a generous 6.6)
                double w = DeltaReport.CHAR_W * text.length() * size / 11;
                double x = num(t, "x", 0);
                double left = switch (t.getAttribute("text-anchor")) {
                    case "end" -> x - w;
                    case "middle" -> x - w / 2;
                    default -> x;
                };
                double y = num(t, "y", 0);
                assertTrue(left >= 0 && left + w <= box[0], "'" + text + "' runs outside the viewBox's width " + box[0]
                        + " (from " + left + " to " + (left + w) + ")");
                assertTrue(y - size >= 0 && y + 3 <= box[1], "'" + text + "' at y " + y + " outside the height " + box[1]);
                widestRight = Math.max(widestRight, left + w);
            }
            // the case the check is for: on this two-layer model the legend is much wider than the grid
            assertTrue(widestRight > gridRight + 200, "legend right " + widestRight + ", grid right " + gridRight);
        }
    }

    @Test
    void theColourScaleHasAColourBarFromTheSmallestToTheLargestValue() {
        Element median = heatmaps().get(0);
        Element bar = all(median, "rect").stream().filter(r -> r.getAttribute("class").equals("colour-bar")).findFirst()
                .orElse(null);
        assertNotNull(bar, "a colour bar");
        Matcher ref = Pattern.compile("url\\(#([^)]+)\\)").matcher(bar.getAttribute("fill"));
        assertTrue(ref.matches(), "the bar is filled with a gradient: " + bar.getAttribute("fill"));
        Element gradient = all(median, "linearGradient").stream().filter(g -> g.getAttribute("id").equals(ref.group(1)))
                .findFirst().orElse(null);
        assertNotNull(gradient, "the gradient " + ref.group(1) + " is defined in the same drawing");
        List<Element> stops = all(gradient, "stop");
        assertTrue(stops.size() >= 2, "stops: " + stops.size());
        // its ends are the colours of the lightest and darkest cells
        List<String> fills = all(median, "rect").stream().filter(r -> !r.getTextContent().isEmpty())
                .map(r -> r.getAttribute("fill")).toList();
        assertTrue(fills.contains(stops.get(0).getAttribute("stop-color")), "no cell has the bar's low colour");
        assertTrue(fills.contains(stops.get(stops.size() - 1).getAttribute("stop-color")), "no cell has the bar's high colour");
        // its end labels are the smallest and largest positive median, computed here from the tensors
        double lo = Double.POSITIVE_INFINITY, hi = 0;
        for (TensorStats t : report.tensors()) {
            if (t.layer() >= 0 && t.figures().p50() > 0) {
                lo = Math.min(lo, t.figures().p50());
                hi = Math.max(hi, t.figures().p50());
            }
        }
        double barLeft = num(bar, "x", 0), barRight = barLeft + num(bar, "width", 0);
        double lowLabel = Double.NaN, highLabel = Double.NaN;
        for (Element t : all(median, "text")) {
            double x = num(t, "x", -1);
            if (t.getTextContent().matches("[0-9.e+-]+") && num(t, "y", 0) > num(bar, "y", 0)) {
                if (x == barLeft) lowLabel = Double.parseDouble(t.getTextContent());
                if (x == barRight) highLabel = Double.parseDouble(t.getTextContent());
            }
        }
        assertEquals(lo, lowLabel, lo * 0.01, "the bar's low end");
        assertEquals(hi, highLabel, hi * 0.01, "the bar's high end");
    }

    @Test
    void cellsWhoseValueIsZeroAreDrawnAndSayZero() {
        List<Element> maps = heatmaps();
        for (int k = 0; k < 2; k++) {
            int m = k;
            Element svg = maps.get(m);
            long expected = report.tensors().stream().filter(t -> t.layer() >= 0)
                    .filter(t -> (m == 0 ? t.figures().p50() : t.figures().relativeNorm()) == 0).count();
            // k_proj of layer 0, up_proj and q_proj of layer 1 are the base's
            assertEquals(3, expected, "the model has three unchanged tensors in layers");
            int labelled = 0;
            for (Element r : all(svg, "rect")) {
                if (!r.getAttribute("fill").equals(DeltaReport.ZERO_FILL) || r.getTextContent().isEmpty()) continue;
                assertTrue(r.getTextContent().endsWith(" 0"), "the cell's title gives its value: " + r.getTextContent());
                Element next = (Element) r.getNextSibling();
                assertEquals("text", next.getTagName());
                assertEquals("0", next.getTextContent(), "the cell says 0");
                labelled++;
            }
            assertEquals(expected, labelled, "zero cells drawn and labelled");
            String legend = svg.getTextContent();
            assertTrue(legend.contains(m == 0 ? "median |delta| is 0: half the deltas or more are 0"
                    : "relative norm is 0: the tensor equals the base"), legend);
            assertTrue(legend.contains("the layer has no tensor of that kind"), "layer 1 has no k_proj: " + legend);
        }
        // the per-layer log chart cannot draw layer 1's median of 0: it says so
        assertTrue(html.contains("Value 0 (not drawn on the log scale) in layer 1."), "layer chart note");
    }

    @Test
    void everyChartIsAsWideAsThePageAllows() {
        assertTrue(svgs.size() >= 5, "histogram, two layer charts, two heat maps: " + svgs.size());
        for (Element svg : svgs) {
            assertEquals("100%", svg.getAttribute("width"), "a relative width");
            assertFalse(svg.hasAttribute("height"), "no fixed height: the viewBox's aspect ratio gives it");
            double[] box = viewBox(svg);
            if (svg.getAttribute("class").equals("heatmap")) {
                // never drawn wider than its natural size (a two-layer map would have cells a page wide)
                assertEquals("max-width:" + (int) box[0] + "px", svg.getAttribute("style"));
            }
        }
        assertTrue(html.contains("height:auto"), "the page's style lets the height follow the width");
    }
}
