/**
 * BERT encoder layers (multi-head self-attention with the padding mask, GELU feed-forward, post
 * LayerNorm) as ONNX nodes with seeded random weights. Benchmarks use them to build models of a
 * real embedding model's exact shape (all-MiniLM-L6-v2: 6 layers, 384 wide, 12 heads, FFN 1536),
 * whose speed does not depend on the weights' values.
 */
import { DataType, floatTensor, int64Tensor, int8Tensor, type NodeSpec, type TensorSpec } from "./onnxProto.js";

export interface BertShape {
  layers: number;
  heads: number;
  intermediate: number;
}

export interface GraphBuilder {
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  int8: boolean;
  random: () => number;
}

export function uniform(random: () => number, count: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

/** Symmetric per-tensor int8 quantisation. */
export function quantize(values: Float32Array): { q: Int8Array; scale: number } {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  const scale = max / 127 || 1;
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(values[i]! / scale)));
  return { q, scale };
}

/** x·W + b, with W [inputs, outputs]; INT8 builds use DynamicQuantizeLinear + MatMulInteger as onnxruntime's dynamic quantisation does. */
export function dense(g: GraphBuilder, name: string, x: string, inputs: number, outputs: number, weight?: Float32Array, bias?: Float32Array): string {
  const w = weight ?? uniform(g.random, inputs * outputs, Math.sqrt(3 / inputs));
  const b = bias ?? uniform(g.random, outputs, 0.05);
  g.initializers.push(floatTensor(`${name}.bias`, [outputs], b));
  if (g.int8) {
    const { q, scale } = quantize(w);
    g.initializers.push(
      int8Tensor(`${name}.weight_quantized`, [inputs, outputs], q),
      int8Tensor(`${name}.weight_zero_point`, [], Int8Array.of(0)),
      floatTensor(`${name}.weight_scale`, [], Float32Array.of(scale)),
    );
    g.nodes.push(
      { op: "DynamicQuantizeLinear", inputs: [x], outputs: [`${name}.x_q`, `${name}.x_scale`, `${name}.x_zero_point`] },
      { op: "MatMulInteger", inputs: [`${name}.x_q`, `${name}.weight_quantized`, `${name}.x_zero_point`, `${name}.weight_zero_point`], outputs: [`${name}.int`] },
      { op: "Cast", inputs: [`${name}.int`], outputs: [`${name}.float`], attributes: { to: { int: DataType.FLOAT } } },
      { op: "Mul", inputs: [`${name}.x_scale`, `${name}.weight_scale`], outputs: [`${name}.scale`] },
      { op: "Mul", inputs: [`${name}.float`, `${name}.scale`], outputs: [`${name}.matmul`] },
    );
  } else {
    g.initializers.push(floatTensor(`${name}.weight`, [inputs, outputs], w));
    g.nodes.push({ op: "MatMul", inputs: [x, `${name}.weight`], outputs: [`${name}.matmul`] });
  }
  g.nodes.push({ op: "Add", inputs: [`${name}.matmul`, `${name}.bias`], outputs: [`${name}.out`] });
  return `${name}.out`;
}

function layerNorm(g: GraphBuilder, name: string, x: string, hidden: number): string {
  g.initializers.push(floatTensor(`${name}.weight`, [hidden], new Float32Array(hidden).fill(1)), floatTensor(`${name}.bias`, [hidden], new Float32Array(hidden)));
  g.nodes.push({ op: "LayerNormalization", inputs: [x, `${name}.weight`, `${name}.bias`], outputs: [`${name}.out`], attributes: { axis: { int: -1 }, epsilon: { float: 1e-12 } } });
  return `${name}.out`;
}

/**
 * Appends the encoder to `x` ([batch, sequence, hidden]); `maskF` is the attention mask as float
 * [batch, sequence]. Needs opset 17 (LayerNormalization). Returns the last layer's output name.
 */
export function appendBertLayers(g: GraphBuilder, x: string, maskF: string, hidden: number, shape: BertShape): string {
  const dh = hidden / shape.heads;
  if (!Number.isInteger(dh)) throw new Error(`hidden size ${hidden} is not a multiple of ${shape.heads} heads`);
  g.initializers.push(
    int64Tensor("bert.split_heads", [4], [0, 0, shape.heads, dh]),
    int64Tensor("bert.merge_heads", [3], [0, 0, hidden]),
    int64Tensor("bert.mask_axes", [2], [1, 2]),
    floatTensor("bert.one", [], Float32Array.of(1)),
    floatTensor("bert.mask_min", [], Float32Array.of(-10000)),
    floatTensor("bert.attention_scale", [], Float32Array.of(1 / Math.sqrt(dh))),
    floatTensor("bert.sqrt2", [], Float32Array.of(Math.SQRT2)),
    floatTensor("bert.half", [], Float32Array.of(0.5)),
  );
  // Padding gets -10000 added to its attention scores: [batch, 1, 1, sequence].
  g.nodes.push(
    { op: "Sub", inputs: ["bert.one", maskF], outputs: ["bert.mask_inverted"] },
    { op: "Mul", inputs: ["bert.mask_inverted", "bert.mask_min"], outputs: ["bert.mask_bias_2d"] },
    { op: "Unsqueeze", inputs: ["bert.mask_bias_2d", "bert.mask_axes"], outputs: ["bert.mask_bias"] },
  );
  let hiddenStates = layerNorm(g, "embeddings.LayerNorm", x, hidden);
  for (let l = 0; l < shape.layers; l++) {
    const p = `encoder.layer.${l}`;
    const heads = (kind: string, perm: number[]): string => {
      const projected = dense(g, `${p}.attention.${kind}`, hiddenStates, hidden, hidden);
      g.nodes.push(
        { op: "Reshape", inputs: [projected, "bert.split_heads"], outputs: [`${p}.${kind}.split`] },
        { op: "Transpose", inputs: [`${p}.${kind}.split`], outputs: [`${p}.${kind}.heads`], attributes: { perm: { ints: perm } } },
      );
      return `${p}.${kind}.heads`;
    };
    const q = heads("query", [0, 2, 1, 3]);
    const k = heads("key", [0, 2, 3, 1]);
    const v = heads("value", [0, 2, 1, 3]);
    g.nodes.push(
      { op: "MatMul", inputs: [q, k], outputs: [`${p}.scores_raw`] },
      { op: "Mul", inputs: [`${p}.scores_raw`, "bert.attention_scale"], outputs: [`${p}.scores_scaled`] },
      { op: "Add", inputs: [`${p}.scores_scaled`, "bert.mask_bias"], outputs: [`${p}.scores`] },
      { op: "Softmax", inputs: [`${p}.scores`], outputs: [`${p}.probs`], attributes: { axis: { int: -1 } } },
      { op: "MatMul", inputs: [`${p}.probs`, v], outputs: [`${p}.context_heads`] },
      { op: "Transpose", inputs: [`${p}.context_heads`], outputs: [`${p}.context_t`], attributes: { perm: { ints: [0, 2, 1, 3] } } },
      { op: "Reshape", inputs: [`${p}.context_t`, "bert.merge_heads"], outputs: [`${p}.context`] },
    );
    const attentionOut = dense(g, `${p}.attention.output`, `${p}.context`, hidden, hidden);
    g.nodes.push({ op: "Add", inputs: [attentionOut, hiddenStates], outputs: [`${p}.attention.residual`] });
    const attended = layerNorm(g, `${p}.attention.LayerNorm`, `${p}.attention.residual`, hidden);
    const up = dense(g, `${p}.intermediate`, attended, hidden, shape.intermediate);
    // GELU(x) = 0.5·x·(1 + erf(x/√2)), as BERT exports spell it out.
    g.nodes.push(
      { op: "Div", inputs: [up, "bert.sqrt2"], outputs: [`${p}.gelu.scaled`] },
      { op: "Erf", inputs: [`${p}.gelu.scaled`], outputs: [`${p}.gelu.erf`] },
      { op: "Add", inputs: [`${p}.gelu.erf`, "bert.one"], outputs: [`${p}.gelu.erf1`] },
      { op: "Mul", inputs: [up, `${p}.gelu.erf1`], outputs: [`${p}.gelu.prod`] },
      { op: "Mul", inputs: [`${p}.gelu.prod`, "bert.half"], outputs: [`${p}.gelu.out`] },
    );
    const down = dense(g, `${p}.output`, `${p}.gelu.out`, shape.intermediate, hidden);
    g.nodes.push({ op: "Add", inputs: [down, attended], outputs: [`${p}.output.residual`] });
    hiddenStates = layerNorm(g, `${p}.output.LayerNorm`, `${p}.output.residual`, hidden);
  }
  return hiddenStates;
}
