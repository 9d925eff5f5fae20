// What the contract's JSON Schema alone says about a payload, computed independently of our C++
// decoder: ajv compiles the schemas straight out of the AsyncAPI document (never a hand copy), and
// JSON text is read with exact number semantics so int64 limits are judged on the literal, not on
// a rounded double.
import fs from "node:fs";
import v8 from "node:v8";
import Ajv from "ajv";
import YAML from "yaml";

export const PAYLOAD_SCHEMA = "RuntimeHealthEventPayload";
export const ENTRY_FIELDS = ["game_id", "container_id", "event_type", "occurred_at_ms", "details"];

// AsyncAPI's format "int64" is a signed 64-bit integer. ajv-formats accepts any integer for it
// (doubles cannot tell 2^63-1 from 2^63), so the bound is checked here on values that
// parseJsonExact has already mapped from the exact literal.
const INT64_MIN = -(2 ** 63);
const INT64_MAX_AS_DOUBLE = 2 ** 63; // 2^63-1 rounds to this; real overflow maps beyond it
const OUT_OF_INT64 = 2 ** 64;

export function loadContract(path) {
  return YAML.parse(fs.readFileSync(path, "utf8"));
}

export function compilePayloadValidator(contract) {
  const schemas = contract?.components?.schemas;
  if (!schemas || !schemas[PAYLOAD_SCHEMA]) {
    throw new Error(`contract has no components.schemas.${PAYLOAD_SCHEMA}`);
  }
  // Draft-07 (ajv's default class), which AsyncAPI 3 schemas extend. The root keeps the
  // document's own layout so the contract's "#/components/schemas/..." refs resolve unchanged.
  const ajv = new Ajv({ strict: true, allErrors: true });
  ajv.addVocabulary(["components"]);
  ajv.addFormat("int64", {
    type: "number",
    validate: (v) => Number.isInteger(v) && v >= INT64_MIN && v <= INT64_MAX_AS_DOUBLE,
  });
  return ajv.compile({
    $ref: `#/components/schemas/${PAYLOAD_SCHEMA}`,
    components: { schemas },
  });
}

// Exact classification of a JSON number literal: is its mathematical value an integer, and does
// it fit int64? Done on the digits because JSON.parse rounds to double first.
const NUMBER_LITERAL = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

export function classifyNumberLiteral(source) {
  const m = NUMBER_LITERAL.exec(source);
  if (!m) {
    return null;
  }
  const negative = m[1] === "-";
  let digits = (m[2] + (m[3] ?? "")).replace(/^0+/, "");
  let exp10 = Number(m[4] ?? "0") - (m[3] ?? "").length;
  if (digits === "") {
    return { integer: true, inInt64: true };
  }
  while (exp10 < 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    exp10 += 1;
  }
  if (exp10 < 0) {
    return { integer: false, inInt64: false };
  }
  // 10^19 > 2^63, so a magnitude with more than 19 digits cannot fit.
  if (digits.length + exp10 > 19) {
    return { integer: true, inInt64: false, negative };
  }
  const magnitude = BigInt(digits) * 10n ** BigInt(exp10);
  const limit = negative ? 2n ** 63n : 2n ** 63n - 1n;
  return { integer: true, inInt64: magnitude <= limit, negative };
}

function ensureJsonSourceAccess() {
  const probe = () => {
    let ctx;
    JSON.parse("1", (_k, v, c) => {
      ctx = c;
      return v;
    });
    return ctx !== undefined && ctx.source === "1";
  };
  if (probe()) {
    return;
  }
  // Node 20's V8 has JSON.parse source text access behind a flag; later Nodes have it on.
  v8.setFlagsFromString("--harmony-json-parse-with-source");
  if (!probe()) {
    throw new Error(
      "this node cannot give JSON.parse the source text of numbers (needs node >= 20); run scripts/setup",
    );
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// Parses one JSON text (a Buffer or string) as a schema validator would see it. Returns
// {ok:true, value} or {ok:false, error}. Invalid UTF-8 is not JSON (RFC 8259 section 8.1).
// Duplicate keys keep the last value, as JSON.parse and most JSON libraries do.
export function parseJsonExact(input) {
  ensureJsonSourceAccess();
  let text = input;
  if (typeof input !== "string") {
    try {
      text = strictUtf8.decode(input);
    } catch {
      return { ok: false, error: "not JSON: invalid UTF-8" };
    }
  }
  try {
    const value = JSON.parse(text, (_key, v, ctx) => {
      if (typeof v !== "number" || ctx?.source === undefined) {
        return v;
      }
      const cls = classifyNumberLiteral(ctx.source);
      if (!cls.integer) {
        // 1.00000000000000001 rounds to an integer double; its value is not an integer.
        return Number.isInteger(v) ? Number.NaN : v;
      }
      if (!cls.inInt64) {
        return cls.negative ? -OUT_OF_INT64 : OUT_OF_INT64;
      }
      return v;
    });
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: `not JSON: ${e.message}` };
  }
}

// A stream entry as the schema sees it: the five string fields turned back into a payload the
// way a consumer without the product's stricter rules would (occurred_at_ms as a JSON number,
// details as JSON text). A value that does not convert stays a string, so the schema rejects it.
export function entryToPayload(entry) {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    return { ok: false, error: "entry is not an object" };
  }
  const payload = {};
  for (const [name, value] of Object.entries(entry)) {
    if (typeof value !== "string") {
      return { ok: false, error: `entry field ${name} is not a string` };
    }
    payload[name] = value;
  }
  if (typeof payload.occurred_at_ms === "string" && NUMBER_LITERAL.test(payload.occurred_at_ms)) {
    payload.occurred_at_ms = parseJsonExact(payload.occurred_at_ms).value;
  }
  if (typeof payload.details === "string") {
    const parsed = parseJsonExact(payload.details);
    if (parsed.ok) {
      payload.details = parsed.value;
    }
  }
  return { ok: true, value: payload };
}

// Splits a buffer into lines on LF; a final LF does not start another line.
export function splitLines(buf) {
  const lines = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) {
      if (start < buf.length) {
        lines.push(buf.subarray(start));
      }
      return lines;
    }
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
}
