package io.mergestream.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The normative DARE mask test vectors, docs/dare-mask-vectors.json (a copy of the shared spec's, on the test
 * class path through the pom's test resources so that a clean clone has them).
 */
final class DareMaskVectors {

    /** One case: the key material, the expected stream key and threshold, and u(i) and keep(i) from {@code start}. */
    record Case(long seed, int model, String name, long start, double density, long streamKey, long threshold,
                long[] u, boolean[] keep) {}

    private DareMaskVectors() {}

    static List<Case> load() {
        JsonNode cases;
        try (InputStream in = DareMaskVectors.class.getResourceAsStream("/dare-mask-vectors.json")) {
            cases = new ObjectMapper().readTree(in).get("cases");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Case> out = new ArrayList<>();
        for (JsonNode c : cases) {
            int n = c.get("u").size();
            long[] u = new long[n];
            boolean[] keep = new boolean[n];
            for (int k = 0; k < n; k++) {
                u[k] = c.get("u").get(k).asLong();
                keep[k] = c.get("keep").get(k).asBoolean();
            }
            out.add(new Case(Long.parseUnsignedLong(c.get("seed").asText()), c.get("model").asInt(),
                    c.get("name").asText(), Long.parseUnsignedLong(c.get("start").asText()),
                    c.get("density").asDouble(), Long.parseUnsignedLong(c.get("streamKey").asText().substring(2), 16),
                    Long.parseLong(c.get("threshold").asText()), u, keep));
        }
        return out;
    }
}
