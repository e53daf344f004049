/**
 * A minimal encoder for the parts of the ONNX protobuf schema (onnx.proto, proto2 syntax) that a
 * small inference graph needs: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto and
 * ValueInfoProto. It is written by hand so that the shipped devtools need no protobuf library; the
 * tests decode its output with onnx-proto to check the field numbers.
 */

/** TensorProto.DataType values. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeValue = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values. */
const AttributeType = { FLOAT: 1, INT: 2, INTS: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Appends protobuf fields to a growing list of byte chunks. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private rawVarint(value: bigint): void {
    // Negative int64 values are encoded as their 64-bit two's complement, ten bytes long.
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

export interface TensorSpec {
  name: string;
  dataType: DataTypeValue;
  dims: readonly number[];
  /** Little-endian element bytes (TensorProto.raw_data). */
  raw: Uint8Array;
}

export function floatTensor(name: string, dims: readonly number[], values: Float32Array): TensorSpec {
  return { name, dataType: DataType.FLOAT, dims, raw: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export function int8Tensor(name: string, dims: readonly number[], values: Int8Array): TensorSpec {
  return { name, dataType: DataType.INT8, dims, raw: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorSpec {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dataType: DataType.INT64, dims, raw: new Uint8Array(data.buffer) };
}

function tensorProto(t: TensorSpec): ProtoWriter {
  const w = new ProtoWriter();
  // proto2 repeated scalars are unpacked by default: one tag per dimension.
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.raw);
  return w;
}

export type AttributeValue = { int: number } | { ints: readonly number[] } | { float: number };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: Record<string, AttributeValue>;
}

function attributeProto(name: string, value: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if ("int" in value) w.varint(3, value.int).varint(20, AttributeType.INT);
  else if ("float" in value) w.float(2, value.float).varint(20, AttributeType.FLOAT);
  else {
    for (const v of value.ints) w.varint(8, v);
    w.varint(20, AttributeType.INTS);
  }
  return w;
}

function nodeProto(node: NodeSpec, index: number): ProtoWriter {
  const w = new ProtoWriter();
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, node.name ?? `${node.op}_${index}`);
  w.string(4, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {})) w.message(5, attributeProto(name, value));
  return w;
}

export interface ValueInfoSpec {
  name: string;
  elemType: DataTypeValue;
  /** A number is a fixed size, a string a symbolic one ("batch_size"). */
  shape: ReadonlyArray<number | string>;
}

function valueInfoProto(v: ValueInfoSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = typeof d === "number" ? new ProtoWriter().varint(1, d) : new ProtoWriter().string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

export interface ModelSpec {
  graphName: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorSpec[];
  inputs: readonly ValueInfoSpec[];
  outputs: readonly ValueInfoSpec[];
  opset: number;
  irVersion: number;
  producer: string;
  docString?: string;
}

/** Encodes a whole model as the bytes of a .onnx file. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const graph = new ProtoWriter();
  spec.nodes.forEach((node, i) => graph.message(1, nodeProto(node, i)));
  graph.string(2, spec.graphName);
  for (const t of spec.initializers) graph.message(5, tensorProto(t));
  for (const v of spec.inputs) graph.message(11, valueInfoProto(v));
  for (const v of spec.outputs) graph.message(12, valueInfoProto(v));

  const model = new ProtoWriter();
  model.varint(1, spec.irVersion);
  model.string(2, spec.producer);
  model.string(3, "1");
  if (spec.docString) model.string(6, spec.docString);
  model.message(7, graph);
  model.message(8, new ProtoWriter().string(1, "").varint(2, spec.opset));
  return model.finish();
}
