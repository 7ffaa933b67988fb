package io.mergestream.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

class DareMaskTest {

    /**
     * dare-mask-vectors.json is a copy of the normative /work/shared/spec/dare-mask-vectors.json
     * (spec/dare-mask.md), kept in the test resources so that a clean clone can run the test.
     */
    @Test
    void reproducesTheNormativeVectors() throws Exception {
        JsonNode cases;
        try (InputStream in = DareMaskTest.class.getResourceAsStream("/dare-mask-vectors.json")) {
            cases = new ObjectMapper().readTree(in).get("cases");
        }
        assertTrue(cases.size() > 0);
        for (JsonNode c : cases) {
            long seed = Long.parseUnsignedLong(c.get("seed").asText());
            int model = c.get("model").asInt();
            String name = c.get("name").asText();
            long start = Long.parseUnsignedLong(c.get("start").asText());
            double density = c.get("density").asDouble();
            long key = DareMask.streamKey(seed, model, name);
            assertEquals(Long.parseUnsignedLong(c.get("streamKey").asText().substring(2), 16), key, name);
            long threshold = DareMask.threshold(density);
            assertEquals(Long.parseLong(c.get("threshold").asText()), threshold, name);
            for (int k = 0; k < c.get("u").size(); k++) {
                long i = start + k;
                int u = DareMask.u(i, DareMask.k0(key), DareMask.k1(key));
                assertEquals(c.get("u").get(k).asLong(), Integer.toUnsignedLong(u), name + " u(" + i + ")");
                assertEquals(c.get("keep").get(k).asBoolean(), DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold),
                        name + " keep(" + i + ")");
            }
        }
    }

    @Test
    void thresholdEdges() {
        assertEquals(1L << 32, DareMask.threshold(1.0));
        assertEquals(1L << 32, DareMask.threshold(1.5));
        assertEquals(0, DareMask.threshold(0.0));
        assertEquals(2147483648L, DareMask.threshold(0.5));
        assertEquals(429496729L, DareMask.threshold(0.1)); // floor(0.1 * 2^32) in double
    }

    @Test
    void keptFractionIsWithinFourSigmaOfTheDensity() {
        long key = DareMask.streamKey(1234, 2, "model.layers.7.mlp.down_proj.weight");
        int draws = 1_000_000;
        for (double density : new double[]{0.01, 0.1, 0.5, 0.9}) {
            long threshold = DareMask.threshold(density);
            long kept = 0;
            for (long i = 0; i < draws; i++) {
                if (DareMask.keep(i, DareMask.k0(key), DareMask.k1(key), threshold)) kept++;
            }
            double sigma = Math.sqrt(draws * density * (1 - density));
            assertTrue(Math.abs(kept - draws * density) < 4 * sigma, "density " + density + " kept " + kept);
        }
    }
}
