import type { Node } from "web-tree-sitter";
import type { GrammarId } from "../languages.js";
import type { Chunk, ChunkKind } from "../types.js";
import { finishChunk, splitRange, type ChunkLimits } from "./common.js";

/**
 * Code chunking on a tree-sitter tree. Top-level definitions (functions, classes, types…)
 * become chunks of their own with their symbol name and kind; a definition too large for one
 * chunk is opened and its members become chunks ("Parser.parse", kind method), its remaining
 * lines chunks labelled with the definition; code between definitions and small definitions
 * are merged with their neighbours up to the token bound; doc comments and attributes stay with
 * the definition they describe. Only nodes that are too large are descended into, so a file
 * costs a walk over its top-level nodes, not over its whole tree.
 */

const FUNCTION_TYPES = new Set([
  "function_declaration",
  "generator_function_declaration",
  "function_definition",
  "function_item",
  "function_signature",
  "method_definition",
  "method_declaration",
  "method",
  "singleton_method",
  "constructor_declaration",
  "destructor_declaration",
  "operator_declaration",
  "local_function_statement",
  "macro_definition",
]);

const TYPE_KINDS: Record<string, ChunkKind> = {
  class_declaration: "class",
  abstract_class_declaration: "class",
  class_definition: "class",
  class_specifier: "class",
  class: "class",
  record_declaration: "class",
  struct_specifier: "struct",
  struct_item: "struct",
  struct_declaration: "struct",
  record_struct_declaration: "struct",
  union_specifier: "struct",
  union_item: "struct",
  interface_declaration: "interface",
  annotation_type_declaration: "interface",
  trait_item: "trait",
  trait_declaration: "trait",
  impl_item: "impl",
  enum_declaration: "enum",
  enum_item: "enum",
  enum_specifier: "enum",
  module: "module",
  mod_item: "module",
  internal_module: "namespace",
  namespace_declaration: "namespace",
  file_scoped_namespace_declaration: "namespace",
  namespace_definition: "namespace",
  type_alias_declaration: "type",
  type_item: "type",
  type_declaration: "type",
  type_definition: "type",
  delegate_declaration: "type",
  property_declaration: "property",
};

/** Kinds whose members are qualified by the container's name. */
const CONTAINERS = new Set<ChunkKind>(["class", "struct", "interface", "trait", "impl", "enum", "module", "namespace"]);

/** Nodes that wrap a definition: the definition inside names the unit, the wrapper gives its lines. */
const WRAPPERS = new Set(["export_statement", "decorated_definition", "template_declaration", "ambient_declaration"]);

/** Node types that hold the members of a namespace or module. */
const BODY = /body|_list$|^block$/;

/** Nodes that stay with the definition right after them. */
function isAttachable(type: string): boolean {
  return type.includes("comment") || type === "attribute_item" || type === "decorator" || type === "attribute_list";
}

interface Def {
  symbol: string;
  kind: ChunkKind;
  /** Name used to qualify members (a Rust impl's type, a class name). */
  qualifier: string;
  /** The definition node itself when the unit's node wraps it (export, decorators, template). */
  inner?: Node;
}

interface Ctx {
  symbol: string;
  kind: ChunkKind;
  qualifier: string;
}

interface Unit {
  start: number;
  end: number;
  def?: Def;
  /** Names of the definitions in the unit (a container's members too). */
  names: string[];
  ctx: Ctx | undefined;
  attachable: boolean;
}

export interface CodeChunkInput {
  root: Node;
  grammar: GrammarId;
  language: string;
  lines: readonly string[];
  sums: Int32Array;
  limits: ChunkLimits;
  /** Words of the file name, added to every chunk's symbols. */
  pathWords: readonly string[];
}

const MAX_DEPTH = 12;

export function chunkTree(input: CodeChunkInput): Chunk[] {
  const { root, lines, sums, limits } = input;
  const tokens = (start: number, end: number): number => sums[end + 1]! - sums[start]!;
  const units: Unit[] = [];
  collect(root, undefined, 0, false);

  // Rows may be shared by neighbouring nodes ("} else {", two statements on one line): each row
  // belongs to the first unit that has it.
  const normalized: Unit[] = [];
  for (const unit of units) {
    const previous = normalized[normalized.length - 1];
    if (previous && unit.start <= previous.end) {
      if (unit.end <= previous.end) {
        previous.names.push(...unit.names);
        continue;
      }
      unit.start = previous.end + 1;
    }
    normalized.push(unit);
  }

  // Doc comments, decorators and attributes join the definition that follows them.
  for (let i = normalized.length - 2; i >= 0; i--) {
    const unit = normalized[i]!;
    const next = normalized[i + 1]!;
    if (unit.attachable && next.def && next.start - unit.end <= 1 && sameCtx(unit.ctx, next.ctx)) {
      next.start = unit.start;
      normalized.splice(i, 1);
    }
  }

  // Greedy grouping: definitions of a fair size stand alone, the rest merges with neighbours.
  interface Group {
    units: Unit[];
    /** The definition the group is about (a standalone one), if any. */
    primary?: Unit;
  }
  const groups: Group[] = [];
  let current: Unit[] = [];
  let currentTokens = 0;
  const flush = (): void => {
    if (current.length > 0) groups.push({ units: current });
    current = [];
    currentTokens = 0;
  };
  for (const unit of normalized) {
    const t = tokens(unit.start, unit.end);
    if (unit.def !== undefined && t >= limits.minTokens) {
      flush();
      groups.push({ units: [unit], primary: unit });
      continue;
    }
    if (current.length > 0 && (currentTokens + t > limits.maxTokens || !sameCtx(current[0]!.ctx, unit.ctx))) flush();
    current.push(unit);
    currentTokens += t;
  }
  flush();

  // A small group (imports, a constant, a one-line type) is folded into its neighbour after it,
  // else before it, when the two fit; the neighbour keeps its name.
  const merged: Group[] = [];
  const first = (g: Group): Unit => g.units[0]!;
  const last = (g: Group): Unit => g.units[g.units.length - 1]!;
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!;
    if (tokens(first(group).start, last(group).end) < limits.minTokens) {
      const next = groups[i + 1];
      const foldable = (other: Group): boolean => sameCtx(first(group).ctx, first(other).ctx) || first(group).ctx === undefined;
      if (next && foldable(next) && tokens(first(group).start, last(next).end) <= limits.maxTokens) {
        groups[i + 1] = { units: [...group.units, ...next.units], primary: next.primary ?? group.primary };
        continue;
      }
      const previous = merged[merged.length - 1];
      if (previous && foldable(previous) && tokens(first(previous).start, last(group).end) <= limits.maxTokens) {
        previous.units.push(...group.units);
        previous.primary ??= group.primary;
        continue;
      }
    }
    merged.push(group);
  }

  const chunks: Chunk[] = [];
  for (const group of merged) {
    const start = first(group).start;
    const end = last(group).end;
    const defs = group.units.filter((u) => u.def);
    let symbol: string;
    let kind: ChunkKind;
    const single = group.primary ?? (defs.length === 1 ? defs[0] : undefined);
    if (single) {
      symbol = single.def!.symbol;
      kind = single.def!.kind;
    } else if (defs.length > 1) {
      const largest = defs.reduce((a, b) => (tokens(b.start, b.end) > tokens(a.start, a.end) ? b : a));
      symbol = largest.def!.symbol;
      kind = "block";
    } else {
      symbol = first(group).ctx?.symbol ?? "";
      kind = first(group).ctx?.kind ?? "block";
    }
    const names = group.units.flatMap((u) => u.names);
    if (first(group).ctx) names.push(first(group).ctx!.symbol);
    for (const range of splitRange(lines, sums, start, end, limits)) {
      chunks.push(finishChunk(lines, range, { language: input.language, symbol, kind, names, pathWords: input.pathWords }));
    }
  }
  return chunks;

  function collect(node: Node, ctx: Ctx | undefined, depth: number, openBodies: boolean): void {
    for (const child of node.children) {
      if (!child) continue;
      const start = child.startPosition.row;
      // A node ending at column 0 of a row does not use that row.
      const end = child.endPosition.column === 0 && child.endPosition.row > start ? child.endPosition.row - 1 : child.endPosition.row;
      if (end < start) continue;
      const def = definitionOf(child, input.grammar, ctx);
      const t = tokens(start, end);
      // Namespaces and modules are opened even when they fit: their members are the units.
      const transparent = def !== undefined && (def.kind === "namespace" || def.kind === "module") && t > limits.minTokens;
      // Inside an opened namespace, its body list is opened too.
      const body = openBodies && !def && child.namedChildCount > 0 && BODY.test(child.type);
      if ((t <= limits.maxTokens && !transparent && !body) || depth >= MAX_DEPTH || child.childCount === 0) {
        const names = def ? [def.symbol, ...memberNames(child, input.grammar, def)] : [];
        units.push({ start, end, def, names, ctx, attachable: !def && isAttachable(child.type) });
        continue;
      }
      if (def) {
        const inner: Ctx = CONTAINERS.has(def.kind) ? { symbol: def.symbol, kind: def.kind, qualifier: def.qualifier } : { symbol: def.symbol, kind: def.kind, qualifier: ctx?.qualifier ?? "" };
        const before = units.length;
        if (def.inner) {
          // Wrapper lines (decorators, "export", "template <…>") stay with the definition's first part.
          for (const part of child.children) {
            if (!part || part.id === def.inner.id) continue;
            const ps = part.startPosition.row;
            const pe = part.endPosition.column === 0 && part.endPosition.row > ps ? part.endPosition.row - 1 : part.endPosition.row;
            if (pe < def.inner.startPosition.row) units.push({ start: ps, end: pe, names: [], ctx: inner, attachable: false });
          }
          collect(def.inner, inner, depth + 1, transparent);
        } else {
          collect(child, inner, depth + 1, transparent);
        }
        // The definition's own name is searchable from every part of it.
        for (let i = before; i < units.length; i++) if (!units[i]!.def) units[i]!.names.push(def.symbol);
      } else {
        collect(child, ctx, depth + 1, body);
      }
    }
  }
}

function sameCtx(a: Ctx | undefined, b: Ctx | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.symbol === b.symbol && a.kind === b.kind);
}

/** The definition a node is (possibly through a wrapper), or undefined. */
function definitionOf(node: Node, grammar: GrammarId, ctx: Ctx | undefined): Def | undefined {
  if (WRAPPERS.has(node.type)) {
    const inner = node.childForFieldName("definition") ?? node.childForFieldName("declaration") ?? node.namedChildren.find((c) => c && (FUNCTION_TYPES.has(c.type) || c.type in TYPE_KINDS || c.type === "lexical_declaration"));
    if (!inner) return undefined;
    const def = definitionOf(inner, grammar, ctx);
    return def ? { ...def, inner: def.inner ?? inner } : undefined;
  }
  const target = node;
  const type = target.type;
  const qualify = (name: string): string => (ctx?.qualifier ? `${ctx.qualifier}.${name}` : name);

  if (FUNCTION_TYPES.has(type)) {
    const name = functionName(target, grammar);
    if (!name) return undefined;
    const inContainer = ctx !== undefined && CONTAINERS.has(ctx.kind) && ctx.kind !== "namespace" && ctx.kind !== "module";
    let kind: ChunkKind = type.startsWith("method") || type === "singleton_method" || type.startsWith("constructor") || type.startsWith("destructor") || inContainer ? "method" : "function";
    if (grammar === "go" && type === "method_declaration") return { symbol: goMethodName(target, name), kind: "method", qualifier: ctx?.qualifier ?? "" };
    if ((grammar === "cpp" || grammar === "c") && name.includes("::")) kind = "method";
    if (grammar === "ruby" && type === "method" && !inContainer) kind = "function";
    return { symbol: qualify(name), kind, qualifier: ctx?.qualifier ?? "" };
  }

  const kind = TYPE_KINDS[type];
  if (kind) {
    if (grammar === "php" && type === "property_declaration") return undefined;
    // C/C++ struct/enum/class specifiers are definitions only with a body ("struct s *p" is a use).
    if (type.endsWith("_specifier") && !target.childForFieldName("body")) return undefined;
    if (type === "type_definition") {
      const declarator = target.childForFieldName("declarator");
      const name = declarator ? declaratorName(declarator) : undefined;
      if (!name) return undefined;
      const inner = target.childForFieldName("type");
      const innerKind = inner ? TYPE_KINDS[inner.type] : undefined;
      return { symbol: qualify(name), kind: inner?.childForFieldName("body") && innerKind ? innerKind : "type", qualifier: qualify(name) };
    }
    if (type === "type_declaration") {
      const spec = target.namedChildren.find((c) => c?.type === "type_spec" || c?.type === "type_alias");
      const name = spec?.childForFieldName("name")?.text;
      if (!name) return undefined;
      const t = spec!.childForFieldName("type")?.type;
      return { symbol: qualify(name), kind: t === "struct_type" ? "struct" : t === "interface_type" ? "interface" : "type", qualifier: qualify(name) };
    }
    if (type === "impl_item") {
      const implType = target.childForFieldName("type")?.text ?? "";
      const trait = target.childForFieldName("trait")?.text;
      if (!implType) return undefined;
      const base = implType.replace(/<.*$/s, "");
      return { symbol: trait ? `${trait} for ${implType}` : implType, kind: "impl", qualifier: qualify(base) };
    }
    const name = target.childForFieldName("name")?.text;
    if (!name) return undefined;
    const short = clip(name.replace(/\s+/g, " "));
    return { symbol: qualify(short), kind, qualifier: qualify(short) };
  }

  // const f = () => …, const C = class …: a function or class by its variable name.
  if (type === "lexical_declaration" || type === "variable_declaration") {
    const declarators = target.namedChildren.filter((c) => c?.type === "variable_declarator");
    if (declarators.length !== 1) return undefined;
    const value = declarators[0]!.childForFieldName("value");
    const name = declarators[0]!.childForFieldName("name")?.text;
    if (!value || !name) return undefined;
    if (value.type === "arrow_function" || value.type === "function_expression" || value.type === "function" || value.type === "generator_function") {
      return { symbol: qualify(name), kind: ctx && CONTAINERS.has(ctx.kind) ? "method" : "function", qualifier: ctx?.qualifier ?? "" };
    }
    if (value.type === "class" || value.type === "class_expression") return { symbol: qualify(name), kind: "class", qualifier: qualify(name) };
    return undefined;
  }
  // module.exports.f = function …, Foo.prototype.bar = () => …
  if (type === "expression_statement" && (grammar === "javascript" || grammar === "typescript" || grammar === "tsx")) {
    const assignment = target.namedChild(0);
    if (assignment?.type !== "assignment_expression") return undefined;
    const right = assignment.childForFieldName("right");
    const left = assignment.childForFieldName("left");
    if (!right || !left) return undefined;
    if (right.type === "arrow_function" || right.type === "function_expression" || right.type === "function") {
      return { symbol: clip(left.text), kind: left.text.includes(".prototype.") ? "method" : "function", qualifier: "" };
    }
    if (right.type === "class" || right.type === "class_expression") return { symbol: clip(left.text), kind: "class", qualifier: clip(left.text) };
  }
  return undefined;
}

function functionName(node: Node, grammar: GrammarId): string | undefined {
  const name = node.childForFieldName("name");
  if (name) {
    if (node.type === "singleton_method") return name.text;
    return clip(name.text);
  }
  if (grammar === "c" || grammar === "cpp") {
    const declarator = node.childForFieldName("declarator");
    return declarator ? declaratorName(declarator) : undefined;
  }
  return undefined;
}

/** The name inside a C/C++ declarator: through pointers, references and function declarators. */
function declaratorName(node: Node): string | undefined {
  let current: Node | null = node;
  for (let i = 0; current && i < 8; i++) {
    switch (current.type) {
      case "identifier":
      case "field_identifier":
      case "type_identifier":
      case "qualified_identifier":
      case "destructor_name":
      case "operator_name":
      case "template_function":
        return clip(current.text.replace(/\s+/g, ""));
      default:
        current = current.childForFieldName("declarator") ?? current.namedChild(0);
    }
  }
  return undefined;
}

/** "Point.Add" for `func (p *Point) Add(…)`. */
function goMethodName(node: Node, name: string): string {
  const receiver = node.childForFieldName("receiver")?.text ?? "";
  const match = /([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*\)\s*$/.exec(receiver);
  return match ? `${match[1]}.${name}` : name;
}

/** Names of the members of a container that fits in one chunk, so a search for a method finds its class. */
function memberNames(node: Node, grammar: GrammarId, def: Def): string[] {
  if (!CONTAINERS.has(def.kind)) return [];
  const out: string[] = [];
  const ctx: Ctx = { symbol: def.symbol, kind: def.kind, qualifier: def.qualifier };
  const visit = (n: Node, depth: number): void => {
    if (depth > 4 || out.length > 64) return;
    for (const child of n.namedChildren) {
      if (!child) continue;
      const member = definitionOf(child, grammar, ctx);
      if (member) out.push(member.symbol);
      else if (child.type.endsWith("body") || child.type.endsWith("_list") || child.type === "block" || child.type === "body_statement") visit(child, depth + 1);
    }
  };
  const inner = WRAPPERS.has(node.type) ? node.namedChildren.find((c) => c && (FUNCTION_TYPES.has(c.type) || c.type in TYPE_KINDS)) : node;
  if (inner) visit(inner, 0);
  return out;
}

function clip(name: string): string {
  return name.length > 120 ? name.slice(0, 120) : name;
}
