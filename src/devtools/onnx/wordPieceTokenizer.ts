/**
 * A small BERT-style WordPiece tokenizer in the Hugging Face tokenizer.json format, for test models
 * when the real all-MiniLM-L6-v2 tokenizer (../shared/models) is absent. The vocabulary is tiny
 * (characters, their "##" continuations and a few hundred common code words) but the file format,
 * normaliser, pre-tokenizer, post-processor and model are the ones real BERT exports use, so
 * @huggingface/tokenizers loads it through the same code paths.
 */

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

const WORDS = `
the a an and or not of to in on for with from by as is are be this that it at if else then
function return const let var class new import export default async await def self none true false
null undefined type interface public private protected static void int string number boolean
struct enum impl fn pub use mod match trait where package func go defer chan map range
try catch finally throw raise except while do break continue switch case yield lambda
get set add remove update delete create read write open close load save find search index
user name id value key data file path list item items count size length error result
query text code model token vector embed embedding chunk test main init start stop run
`;

export interface WordPieceTokenizerFiles {
  tokenizerJson: object;
  tokenizerConfig: object;
  vocabSize: number;
}

export function buildWordPieceTokenizer(): WordPieceTokenizerFiles {
  const vocab: Record<string, number> = {};
  const add = (token: string): void => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  for (const s of SPECIALS) add(s);
  // Every printable ASCII character, as a word start and as a continuation, so any ASCII text
  // tokenizes without [UNK].
  for (let c = 33; c < 127; c++) {
    const ch = String.fromCharCode(c);
    if (ch >= "A" && ch <= "Z") continue; // The normaliser lowercases.
    add(ch);
    add(`##${ch}`);
  }
  for (const word of WORDS.split(/\s+/).filter(Boolean)) add(word);
  const special = (id: string): object => ({ SpecialToken: { id, type_id: 0 } });
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [special("[CLS]"), { Sequence: { id: "A", type_id: 0 } }, special("[SEP]")],
      pair: [
        special("[CLS]"),
        { Sequence: { id: "A", type_id: 0 } },
        special("[SEP]"),
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
  const tokenizerConfig = {
    tokenizer_class: "BertTokenizer",
    do_lower_case: true,
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    unk_token: "[UNK]",
    mask_token: "[MASK]",
    model_max_length: 512,
  };
  return { tokenizerJson, tokenizerConfig, vocabSize: Object.keys(vocab).length };
}
