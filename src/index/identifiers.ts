/**
 * Identifier handling for full-text search. LanceDB's tokenizer keeps `parseConfig` as one
 * token, so chunks carry the words of their compound identifiers in derived columns and
 * queries are expanded the same way (lexicalFields.ts): "parse config" finds `parseConfig`,
 * `parse_config` and `ParseConfig`, and a query for `parseConfig` still ranks the exact identifier
 * first.
 */

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/g;

/** Splits camelCase, PascalCase, snake_case, kebab-case and digits: "parseHTTPConfig_v2" → parse, http, config, v2. */
export function splitIdentifier(identifier: string): string[] {
  const parts: string[] = [];
  for (const piece of identifier.split(/[_$\-.:]+/)) {
    if (!piece) continue;
    const words = piece.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+[a-z]*/g);
    if (!words) continue;
    for (const w of words) parts.push(w.toLowerCase());
  }
  return parts;
}

/** The words of the compound identifiers in `text` (not the plain ones: those are in the text index already). */
export function compoundWords(text: string, limit = 400): string[] {
  const out = new Set<string>();
  for (const id of text.match(IDENTIFIER) ?? []) {
    if (id.length < 4) continue;
    const parts = splitIdentifier(id);
    if (parts.length < 2) continue;
    for (const p of parts) if (p.length > 1) out.add(p);
    if (out.size >= limit) break;
  }
  return [...out];
}

/** Identifier set of a text (for similarity between a query and a chunk). */
export function identifierWords(text: string): Set<string> {
  const out = new Set<string>();
  for (const id of text.match(IDENTIFIER) ?? []) {
    if (id.length >= 3) out.add(id);
  }
  return out;
}
