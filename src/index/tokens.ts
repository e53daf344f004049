/**
 * Token estimates without a tokenizer: the index has to bound chunks on a fresh machine with no
 * model. Code BPE vocabularies (Qwen2.5, GPT-4, CodeBERT-style WordPiece) give roughly one token
 * per short word, one per 4 letters of a long word, one per punctuation character and one per
 * run of spaces. The estimate is meant to be a little high, never far low.
 */
export function estimateTokens(text: string): number {
  let tokens = 0;
  let word = 0;
  let space = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c > 127) {
      word++;
      space = false;
      continue;
    }
    if (word > 0) {
      tokens += word <= 6 ? 1 : Math.ceil(word / 4);
      word = 0;
    }
    if (c === 32 || c === 9) {
      if (!space) tokens++;
      space = true;
    } else {
      tokens++;
      space = c === 10;
    }
  }
  if (word > 0) tokens += word <= 6 ? 1 : Math.ceil(word / 4);
  return tokens;
}

/** Token estimate of every line of `lines`, and prefix sums to get any line range in O(1). */
export function lineTokenSums(lines: readonly string[]): Int32Array {
  const sums = new Int32Array(lines.length + 1);
  for (let i = 0; i < lines.length; i++) sums[i + 1] = sums[i]! + estimateTokens(lines[i]!) + 1;
  return sums;
}
