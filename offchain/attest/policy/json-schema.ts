/**
 * A small JSON Schema validator for the keywords our policy schema uses (a subset of draft
 * 2020-12): type, const, enum, properties, required, additionalProperties: false, items,
 * minItems, maxItems, minLength, maxLength, pattern, minimum, maximum, oneOf. Written here
 * rather than pulling in Ajv for one fixed schema; unknown keywords are rejected at
 * validate time so the schema cannot silently promise more than is checked.
 */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  const?: unknown;
  enum?: readonly unknown[];
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  additionalProperties?: false;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  oneOf?: readonly JsonSchema[];
}

export interface SchemaError {
  /** JSON pointer of the offending value ("" is the document). */
  path: string;
  message: string;
}

const KNOWN = new Set([
  "$schema", "$id", "title", "description", "type", "const", "enum", "properties", "required",
  "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "pattern",
  "minimum", "maximum", "oneOf",
]);

function typeOk(type: NonNullable<JsonSchema["type"]>, v: unknown): boolean {
  switch (type) {
    case "object": return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array": return Array.isArray(v);
    case "string": return typeof v === "string";
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number" && Number.isFinite(v);
    case "boolean": return typeof v === "boolean";
  }
}

function esc(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** Validates `value`; returns every error found (empty = valid). */
export function validateJson(schema: JsonSchema, value: unknown, path = ""): SchemaError[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new TypeError(`schema keyword "${k}" not supported`);
  const errs: SchemaError[] = [];
  if (schema.type && !typeOk(schema.type, value)) return [{ path, message: `must be ${schema.type}` }];
  if ("const" in schema && value !== schema.const) errs.push({ path, message: `must be ${JSON.stringify(schema.const)}` });
  if (schema.enum && !schema.enum.includes(value)) errs.push({ path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}` });
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) errs.push({ path, message: `must have at least ${schema.minLength} characters` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push({ path, message: `must have at most ${schema.maxLength} characters` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) errs.push({ path, message: `must match ${schema.pattern}` });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push({ path, message: `must be >= ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) errs.push({ path, message: `must be <= ${schema.maximum}` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push({ path, message: `must have at least ${schema.minItems} items` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errs.push({ path, message: `must have at most ${schema.maxItems} items` });
    if (schema.items) value.forEach((v, i) => errs.push(...validateJson(schema.items!, v, `${path}/${i}`)));
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) errs.push({ path, message: `missing required property "${r}"` });
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) errs.push(...validateJson(sub, v, `${path}/${esc(k)}`));
      else if (schema.additionalProperties === false) errs.push({ path: `${path}/${esc(k)}`, message: "unknown property" });
    }
  }
  if (schema.oneOf) {
    const results = schema.oneOf.map((s) => validateJson(s, value, path));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing !== 1) {
      // A discriminated union: report the errors of the branch whose `kind` matches, which is what a human meant.
      const kind = typeof value === "object" && value !== null ? (value as Record<string, unknown>).kind : undefined;
      const idx = schema.oneOf.findIndex((s) => s.properties?.kind?.const === kind);
      if (passing === 0 && idx >= 0) errs.push(...results[idx]!);
      else errs.push({ path, message: passing === 0 ? "matches no allowed variant" : "matches more than one variant" });
    }
  }
  return errs;
}
