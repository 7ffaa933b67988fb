package io.mergestream.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The base's model card front matter is read as PyYAML's {@code safe_load} reads it (huggingface_hub's reader):
 * the expected values below are what {@code yaml.safe_load} gives for the same text.
 */
class ModelCardFrontMatterTest {

    /**
     * {@code testdata/fuzz-regressions/model-card-license-through-an-alias.README.md}: {@code license: *lic}
     * after {@code license_family: &lic mit}. PyYAML: {@code license} is "mit"; Jackson's YAML reader (used
     * before) read the alias as the string "lic", and the merged model's card named the licence "lic".
     */
    @Test
    void aLicenceGivenThroughAnAliasIsTheAnchoredValue(@TempDir Path base) throws Exception {
        Files.copy(Path.of("testdata/fuzz-regressions/model-card-license-through-an-alias.README.md"),
                base.resolve("README.md"));
        JsonNode licence = ModelCard.licence(base).orElseThrow();
        assertEquals("mit", licence.get("license").asText());
        assertEquals(1, licence.size(), licence.toString());
    }

    /** {@code language: &langs [en, *langs]}: PyYAML builds a list holding itself; not a string, so not copied. */
    @Test
    void aListContainingItselfIsNotAValueToCopy() {
        JsonNode front = ModelCard.parseFrontMatter("---\nlicense: &a [*a]\nlicense_name: x\n---\n").orElseThrow();
        assertFalse(front.has("license"), front.toString());
        assertEquals("x", front.get("license_name").asText());
    }

    /** PyYAML: "found undefined alias 'b'" (a ComposerError), where Jackson's reader gave the string "b". */
    @Test
    void anUndefinedAliasIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelCard.parseFrontMatter("---\nlicense: *b\n---\n"));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("undefined alias"), e.getMessage());
    }

    /** YAML 1.1 types as PyYAML reads them: {@code yes} a boolean, {@code 2024} an int; neither is a licence name. */
    @Test
    void onlyStringsAreKept() {
        JsonNode front = ModelCard.parseFrontMatter("---\nlicense: yes\nlicense_name: 2024\nlicense_link: 'yes'\n---\n")
                .orElseThrow();
        assertFalse(front.has("license") || front.has("license_name"), front.toString());
        assertEquals("yes", front.get("license_link").asText());
    }
}
