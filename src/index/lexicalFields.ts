/**
 * Full-text ranking over several fields of a chunk, as BM25F-style engines (Lucene/Tantivy field
 * boosts, Zoekt's symbol signals) do: what a chunk is named and declares counts for more than a
 * word somewhere in its body, but each field is weighed so that no short field floods the results.
 *
 * Fields (columns of the chunks table, each with its own full-text index):
 * - `body`: the chunk's words with every compound identifier split (camelCase, snake_case,
 *   digits) and also kept whole, stemmed: "parseHttpConfig" matches "parse the HTTP config";
 * - `name`: the words of the chunk's definition name, not stemmed, so "modes" finds `modes`
 *   before every `mode` (distinct identifiers stay distinct where it matters most);
 * - `signature`: the identifiers of the chunk's first line (a definition's signature: its name,
 *   parameters and types), split and whole, not stemmed;
 * - `symbols`: definition names, compound-identifier words and the file name's words (stemmed).
 *
 * Query words get weights too: in the name fields, common English words and the names of
 * programming languages ("how to … in python") count for half, so that a name like `to_python`
 * cannot take the top of every list; one-letter words are kept ("split into n parts" needs the
 * `n` of `split(s, n)`), except the article "a".
 *
 * The weights were tuned on two benchmarks that pull apart (README, "Search quality"):
 * bench:retrieval (doc-comment summaries, which describe a function's name and signature) and
 * bench:commits (commit subjects, which describe what changed in a body). A heavier signature or
 * a lighter common word gains on the first and loses on the second; these values are the middle.
 */
import { splitIdentifier } from "./identifiers.js";

export type LexicalField = "body" | "name" | "signature" | "symbols";

/** Boost of each field's BM25 score. */
export const FIELD_WEIGHTS: Readonly<Record<LexicalField, number>> = Object.freeze({ body: 1, name: 0.3, signature: 0.3, symbols: 0.3 });

/** Fields whose index stems words; the others match words exactly (lowercased, accents folded). */
export const STEMMED_FIELDS: ReadonlySet<LexicalField> = new Set<LexicalField>(["body", "symbols"]);

/** Weight of a common English word or a language's name in a query, relative to other words. */
export const COMMON_WORD_WEIGHT = 0.5;

/**
 * Fields where common words count for less: the short ones made of names, where "to" or
 * "python" in `to_python` would otherwise outscore everything. In the body, BM25's own inverse
 * document frequency weighs them, and words such as "return", "if" or "not" are code there.
 */
export const COMMON_WORD_FIELDS: ReadonlySet<LexicalField> = new Set<LexicalField>(["name", "signature", "symbols"]);

const COMMON_WORDS = new Set(
  `a an the and or but not no nor of to in on at by for with from as is are was were be been being it its this that these those
  if then else when which who whom what how all any each can could should would will may might must do does did done has have had
  you he she we they me my our your their his her them us one some such than too very so also just only into onto over up out
  about after before between under again here there why where both few more most other own same via per given returns return
  using use used`.split(/\s+/),
);

/** Names people add to a query to say which language they mean ("… in python"), lowercased. */
const LANGUAGE_NAMES = new Set(
  `javascript js typescript ts node nodejs python py java golang go rust rs ruby rb php c cpp csharp cs kotlin swift scala bash shell
  sh lua perl haskell elixir dart`.split(/\s+/),
);

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/g;
const WORD = /[A-Za-z0-9]+/g;

/** Upper bound on a derived field's length, so a pathological chunk cannot make rows huge. */
const MAX_FIELD_CHARS = 64_000;

/** A part with trailing digits also stands for its word ("config2" → config), as people search for it. */
const TRAILING_DIGITS = /^([a-z]{2,})[0-9]+$/;

/** Words of an identifier for indexing: its parts (and their words without trailing digits), and the identifier itself when it has several. */
function identifierTerms(id: string, out: string[]): void {
  const parts = splitIdentifier(id);
  if (parts.length > 1 || TRAILING_DIGITS.test(parts[0] ?? "")) out.push(id);
  for (const p of parts) {
    out.push(p);
    const word = TRAILING_DIGITS.exec(p)?.[1];
    if (word) out.push(word);
  }
}

/** The `body` field: the text's words, compound identifiers split into their parts and kept whole. */
export function bodyField(text: string): string {
  const out: string[] = [];
  let length = 0;
  for (const match of text.matchAll(IDENTIFIER)) {
    const before = out.length;
    identifierTerms(match[0], out);
    for (let i = before; i < out.length; i++) length += out[i]!.length + 1;
    if (length > MAX_FIELD_CHARS) break;
  }
  return out.join(" ");
}

/** The `name` field: the words of a (qualified) definition name ("Shop.addToCart" → shop add to cart). */
export function nameField(symbol: string): string {
  const out = new Set<string>();
  for (const part of symbol.split(/[^A-Za-z0-9_$]+/)) for (const w of splitIdentifier(part)) out.add(w);
  return [...out].join(" ");
}

/** The `signature` field: the identifiers of the first non-blank line, split and whole. */
export function signatureField(text: string): string {
  const newline = text.search(/\S/);
  const start = newline < 0 ? 0 : newline;
  const end = text.indexOf("\n", start);
  const line = text.slice(start, end < 0 ? Math.min(text.length, start + 2000) : Math.min(end, start + 2000));
  const out: string[] = [];
  for (const match of line.matchAll(IDENTIFIER)) identifierTerms(match[0], out);
  return [...new Set(out)].join(" ");
}

export interface WeightedTerm {
  term: string;
  /** 1 for ordinary words, COMMON_WORD_WEIGHT for common words and language names. */
  weight: number;
}

/**
 * The terms of a query: its words (numbers left out) and the parts of its compound identifiers,
 * lowercased, each once, at most `maxTerms`, with their weights. LanceDB's query parser never
 * sees the user's punctuation: only [a-z0-9] words are passed on.
 */
export function queryTerms(query: string, maxTerms = 48): WeightedTerm[] {
  const out: WeightedTerm[] = [];
  const seen = new Set<string>();
  const add = (raw: string): void => {
    const term = raw.toLowerCase();
    if (out.length >= maxTerms || seen.has(term) || /^[0-9]+$/.test(term) || term === "a") return;
    seen.add(term);
    out.push({ term, weight: COMMON_WORDS.has(term) || LANGUAGE_NAMES.has(term) ? COMMON_WORD_WEIGHT : 1 });
  };
  for (const match of query.matchAll(WORD)) add(match[0]);
  for (const match of query.matchAll(IDENTIFIER)) {
    for (const p of splitIdentifier(match[0])) {
      add(p);
      const word = TRAILING_DIGITS.exec(p)?.[1];
      if (word) add(word);
    }
  }
  return out;
}
