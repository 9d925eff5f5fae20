#!/usr/bin/env node
// Generates the conformance sets for RuntimeHealthEvent payloads and stream entries.
//
//   node generate.mjs --out DIR [--contract FILE] [--corpus DIR]
//
// Writes into DIR:
//   valid.jsonl                 payloads every reader must accept (one per line)
//   valid.canonical.jsonl       the canonical encoding of each line of valid.jsonl
//   valid-entries.jsonl         the same events as stream entries ({field: string value})
//   valid-entries.canonical.jsonl  each entry as the five fields in contract order, canonical values
//   invalid.jsonl               payloads that break one rule each (binary: some hold raw bytes)
//   invalid.expected.jsonl      per line of invalid.jsonl: {"case","path","ajv_accepts","stricter"}
//   invalid-entries.jsonl       entries that break one rule each
//   invalid-entries.expected.jsonl
// With --corpus DIR, also writes small seed files to DIR/contract_payload and DIR/contract_entry.
//
// Event types, details variants, field names, field order and field types are read from the
// contract, so a contract change shows up here instead of being masked by a stale copy.
// `path` is the JSON pointer our decoder must report; `ajv_accepts` is what the schema alone
// decides; `stricter` names the documented rule (STRICTER below) that makes us reject what the
// schema accepts, or is null.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));

// Where the product is documented to be stricter than the JSON Schema. run.mjs accepts an
// ajv-accepted invalid line only when it carries one of these.
export const STRICTER = {
  "variant-mismatch":
    "STREAM-ENCODING.md: the details variant must be the one event_type selects (oneOf alone does not tie them)",
  "empty-id": "STREAM-ENCODING.md: producers never emit an empty game_id or container_id",
  "duplicate-key":
    "STREAM-ENCODING.md: each field once, contract is closed (JSON parsers silently keep the last duplicate)",
  "entry-integer":
    "STREAM-ENCODING.md: occurred_at_ms in canonical decimal (optional '-', no '+', no leading zeros, no spaces)",
  "json-integer":
    "STREAM-ENCODING.md: integers are JSON integers (no fraction, no exponent) that fit in int64",
  utf8: "STREAM-ENCODING.md: strings are valid UTF-8 (a lone surrogate escape has no UTF-8 form)",
  "size-limit": "codec.hpp DecodeLimits: a payload or details value over max_bytes is rejected before parsing",
};

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// ---------------------------------------------------------------------------------------------
// The contract, as data.

function loadModel(contractPath) {
  const doc = YAML.parse(fs.readFileSync(contractPath, "utf8"), { intAsBigInt: true });
  const schemas = doc.components.schemas;
  const payload = schemas.RuntimeHealthEventPayload;
  const topFields = Object.keys(payload.properties);
  const eventTypes = schemas.EventType.enum;
  const variantNames = payload.properties.details.oneOf.map((r) => r.$ref.split("/").pop());
  const variants = {};
  for (const type of eventTypes) {
    // container_started -> ContainerStartedDetails: the contract's naming, checked below.
    const name = `${type
      .split("_")
      .map((w) => w[0].toUpperCase() + w.slice(1))
      .join("")}Details`;
    if (!variantNames.includes(name) || !schemas[name]) {
      throw new Error(`contract: no details variant ${name} for event_type ${type}`);
    }
    const props = schemas[name].properties ?? {};
    variants[type] = {
      schema: name,
      fields: Object.keys(props).map((f) => ({ name: f, type: props[f].type })),
      required: schemas[name].required ?? [],
    };
  }
  if (variantNames.length !== eventTypes.length) {
    throw new Error("contract: details oneOf and EventType enum differ in size");
  }
  const examples = doc.components.messages.RuntimeHealthEvent.examples.map((e) => ({
    name: e.name,
    payload: e.payload,
  }));
  return { topFields, eventTypes, variants, examples };
}

// ---------------------------------------------------------------------------------------------
// Events and their JSON text. Integers are BigInt so int64 edges are exact.

function event(type, details, over = {}) {
  return {
    game_id: "game-123",
    container_id: "7c2b5d1a4f6e",
    event_type: type,
    occurred_at_ms: 1775121700000n,
    details,
    ...over,
  };
}

// JSON.stringify escapes exactly as Boost.JSON's serializer does for well-formed strings
// (\b \t \n \f \r short forms, other controls as lowercase \u00XX, everything else raw UTF-8).
const str = (s) => JSON.stringify(s);

function scalar(v) {
  if (typeof v === "bigint") {
    return v.toString();
  }
  if (typeof v === "string") {
    return str(v);
  }
  return JSON.stringify(v);
}

// An object from ordered [key, raw JSON text] pairs. A string key is encoded; a Buffer key, and
// any Buffer text, is written as is (escaped key spellings, raw invalid bytes).
function rawObject(pairs, sep = ",", colon = ":") {
  const parts = ["{"];
  pairs.forEach(([k, raw], i) => {
    if (i > 0) {
      parts.push(sep);
    }
    parts.push(typeof k === "string" ? str(k) : k, colon, raw);
  });
  parts.push("}");
  return concat(parts);
}

function concat(parts) {
  if (parts.every((p) => typeof p === "string")) {
    return parts.join("");
  }
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p)));
}

function detailsPairs(model, ev) {
  return model.variants[ev.event_type].fields.map((f) => [f.name, scalar(ev.details[f.name])]);
}

function canonicalDetails(model, ev) {
  return rawObject(detailsPairs(model, ev));
}

function payloadPairs(model, ev) {
  return model.topFields.map((f) => [
    f,
    f === "details" ? canonicalDetails(model, ev) : scalar(ev[f]),
  ]);
}

function canonicalPayload(model, ev) {
  return rawObject(payloadPairs(model, ev));
}

function entryPairs(model, ev) {
  return model.topFields.map((f) => [
    f,
    f === "details" ? canonicalDetails(model, ev) : ev[f].toString(),
  ]);
}

// A stream entry as the CLI reads it: one JSON object, field name -> string value.
function entryLine(pairs) {
  return rawObject(pairs.map(([k, v]) => [k, typeof v === "string" ? str(v) : v]));
}

function replacePair(pairs, key, raw) {
  return pairs.map(([k, v]) => (k === key ? [k, raw] : [k, v]));
}

// ---------------------------------------------------------------------------------------------
// Valid events.

const ASTRAL = "\u{1F600}\u{1D11E}\u{10FFFF}";
const CONTROLS = "\u0000\u0001\b\t\n\u000b\f\r\u001f\u007f\"\\/";

function sampleDetails(type) {
  switch (type) {
    case "container_started":
      return { image_ref: "registry.example.com/galaxy/game:1.4.7" };
    case "container_exited":
      return { exit_code: 137n, oom: false };
    case "container_oom":
      return { exit_code: 137n };
    case "container_disappeared":
      return {};
    case "inspect_unhealthy":
      return { restart_count: 2n, state: "running", health: "unhealthy" };
    case "probe_failed":
      return { consecutive_failures: 3n, last_status: 0n, last_error: "context deadline exceeded" };
    case "probe_recovered":
      return { prior_failure_count: 3n };
    default:
      throw new Error(`generator has no sample for event_type ${type}`);
  }
}

function validEvents(model) {
  const evs = [];
  for (const type of model.eventTypes) {
    evs.push(event(type, sampleDetails(type)));
  }
  // Every integer field of every variant at the int64 edges, 0 and -1.
  for (const type of model.eventTypes) {
    for (const f of model.variants[type].fields) {
      if (f.type !== "integer") {
        continue;
      }
      for (const v of [INT64_MIN, -1n, 0n, 1n, 255n, INT64_MAX]) {
        evs.push(event(type, { ...sampleDetails(type), [f.name]: v }));
      }
    }
  }
  for (const v of [INT64_MIN, -1n, 0n, INT64_MAX]) {
    evs.push(event("probe_recovered", { prior_failure_count: 0n }, { occurred_at_ms: v }));
  }
  evs.push(event("container_exited", { exit_code: 137n, oom: true }));
  evs.push(event("container_exited", { exit_code: -2147483648n, oom: false }));
  // Strings: empty where the contract allows it, unicode incl. astral plane, escaped controls.
  evs.push(event("container_started", { image_ref: "" }));
  evs.push(event("container_started", { image_ref: `héllo wörld 中文 ${ASTRAL}` }));
  evs.push(event("container_started", { image_ref: CONTROLS }));
  evs.push(event("container_started", { image_ref: "line\u2028sep\u2029end\ufeff\ufffd" }));
  evs.push(event("inspect_unhealthy", { restart_count: 0n, state: "", health: "" }));
  evs.push(event("inspect_unhealthy", { restart_count: 5n, state: "exited", health: CONTROLS }));
  evs.push(event("probe_failed", { consecutive_failures: 3n, last_status: 503n, last_error: "" }));
  evs.push(
    event("probe_failed", {
      consecutive_failures: 1n,
      last_status: 0n,
      last_error: `dial tcp: \u0000\u001b[31m ${ASTRAL} ошибка`,
    }),
  );
  evs.push(
    event(
      "container_disappeared",
      {},
      { game_id: `g\u00e9\u4e2d${ASTRAL}`, container_id: "c".repeat(64) },
    ),
  );
  evs.push(event("container_disappeared", {}, { game_id: "g", container_id: "c" }));
  evs.push(event("container_oom", { exit_code: 0n }, { game_id: "x".repeat(4096) }));
  evs.push(event("container_started", { image_ref: "\\\"/" }, { container_id: " \t " }));
  // The contract's own examples.
  for (const ex of model.examples) {
    const p = ex.payload;
    evs.push({ ...p, occurred_at_ms: BigInt(p.occurred_at_ms), details: { ...p.details } });
  }
  return evs;
}

// Valid but not canonical spellings of the same events: our decoder must accept them and
// re-encode them canonically. Each entry: {text, ev}.
function nonCanonicalValid(model) {
  const out = [];
  const exited = event("container_exited", { exit_code: 1n, oom: true });
  const pairs = payloadPairs(model, exited);
  const reversed = [...pairs]
    .reverse()
    .map(([k, v]) => [k, k === "details" ? rawObject(detailsPairs(model, exited).reverse()) : v]);
  out.push({ text: rawObject(reversed), ev: exited });
  out.push({ text: ` \t${rawObject(pairs, " , ", " : ")}\t `, ev: exited });
  const started = event("container_started", { image_ref: "é/😀" });
  out.push({
    text: rawObject(
      replacePair(payloadPairs(model, started), "details", '{"image_ref":"\\u00E9\\/\\uD83D\\uDE00"}'),
    ),
    ev: started,
  });
  out.push({
    text: rawObject(
      payloadPairs(model, started).map(([k, v]) => [k === "game_id" ? Buffer.from('"game\\u005fid"') : k, v]),
    ),
    ev: started,
  });
  const gid = event("container_oom", { exit_code: 0n }, { game_id: "game" });
  out.push({
    text: rawObject(
      replacePair(
        replacePair(payloadPairs(model, gid), "game_id", '"\\u0067\\u0061me"'),
        "details",
        '{"exit_code":-0}',
      ),
    ),
    ev: gid,
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Invalid payloads: each breaks exactly one rule, so the expected path is unambiguous.

function otherVariantWithKeys(model, type, keys) {
  const set = [...keys].sort().join(",");
  return model.eventTypes.find(
    (t) => t !== type && [...model.variants[t].required].sort().join(",") === set,
  );
}

const WRONG_TYPE_SAMPLES = {
  string: '"1"',
  integer: "1",
  boolean: "true",
  null: "null",
  array: "[1]",
  object: "{}",
};

function wrongTypes(ownType) {
  return Object.entries(WRONG_TYPE_SAMPLES).filter(([t]) => t !== ownType);
}

function invalidPayloads(model) {
  const cases = [];
  const add = (name, input, pth, ajvAccepts = false, stricter = null) =>
    cases.push({ name, input, path: pth, ajv_accepts: ajvAccepts, stricter });
  const base = (type) => event(type, sampleDetails(type));
  const topType = { occurred_at_ms: "integer", details: "object" };

  const okPairs = payloadPairs(model, base("container_exited"));

  // Required fields missing, top level.
  for (const f of model.topFields) {
    add(`missing ${f}`, rawObject(okPairs.filter(([k]) => k !== f)), `/${f}`);
  }
  // Required fields missing, each variant. When what is left is exactly another variant's field
  // set, the schema's oneOf accepts it; we still name the missing field, the actionable fix
  // (a mismatch is reported at /details only when a field foreign to the variant is present).
  for (const type of model.eventTypes) {
    const ev = base(type);
    for (const f of model.variants[type].required) {
      const dp = detailsPairs(model, ev).filter(([k]) => k !== f);
      const text = rawObject(replacePair(payloadPairs(model, ev), "details", rawObject(dp)));
      const other = otherVariantWithKeys(
        model,
        type,
        dp.map(([k]) => k),
      );
      if (other) {
        add(`${type} missing details.${f} (= ${other} details)`, text, `/details/${f}`, true, "variant-mismatch");
      } else {
        add(`${type} missing details.${f}`, text, `/details/${f}`);
      }
    }
  }
  // Every field with every wrong JSON type.
  for (const f of model.topFields) {
    for (const [t, raw] of wrongTypes(topType[f] ?? "string")) {
      add(`${f} as ${t}`, rawObject(replacePair(okPairs, f, raw)), `/${f}`);
    }
  }
  for (const type of model.eventTypes) {
    const ev = base(type);
    for (const f of model.variants[type].fields) {
      for (const [t, raw] of wrongTypes(f.type)) {
        const dp = replacePair(detailsPairs(model, ev), f.name, raw);
        add(
          `${type} details.${f.name} as ${t}`,
          rawObject(replacePair(payloadPairs(model, ev), "details", rawObject(dp))),
          `/details/${f.name}`,
        );
      }
    }
  }
  // Unknown fields: top level and in each variant (the closed contract).
  add("unknown top-level field", rawObject([...okPairs, ["extra", "1"]]), "/extra");
  add("unknown top-level field first", rawObject([["zz", '"x"'], ...okPairs]), "/zz");
  for (const type of model.eventTypes) {
    const ev = base(type);
    const dp = [...detailsPairs(model, ev), ["extra", "1"]];
    add(
      `${type} unknown details field`,
      rawObject(replacePair(payloadPairs(model, ev), "details", rawObject(dp))),
      "/details/extra",
    );
  }
  {
    const ev = base("container_started");
    const dp = [...detailsPairs(model, ev), ["oom", "false"]];
    add(
      "container_started with another variant's field",
      rawObject(replacePair(payloadPairs(model, ev), "details", rawObject(dp))),
      "/details/oom",
    );
  }
  // Variant / event_type mismatches: every type with the next type's (valid) details.
  model.eventTypes.forEach((type, i) => {
    const other = model.eventTypes[(i + 1) % model.eventTypes.length];
    const pairs = replacePair(payloadPairs(model, base(type)), "details", canonicalDetails(model, base(other)));
    // Details that are a subset of this type's fields lack one of them: that field is named.
    const mine = model.variants[type].required;
    const theirs = model.variants[other].required;
    const lacking = theirs.every((f) => mine.includes(f)) ? mine.find((f) => !theirs.includes(f)) : undefined;
    const where = lacking ? `/details/${lacking}` : "/details";
    add(`event_type ${type} with ${other} details`, rawObject(pairs), where, true, "variant-mismatch");
  });
  {
    // event_type after details: the decoder must not depend on key order to find the mismatch.
    const pairs = replacePair(okPairs, "event_type", str("probe_failed"));
    const moved = [...pairs.filter(([k]) => k !== "event_type"), ["event_type", str("probe_failed")]];
    add("event_type last, mismatching details", rawObject(moved), "/details", true, "variant-mismatch");
  }
  // Unknown event_type values.
  for (const v of ["container_restarted", "", "CONTAINER_EXITED", "container_exited ", "container-exited"]) {
    add(`event_type ${JSON.stringify(v)}`, rawObject(replacePair(okPairs, "event_type", str(v))), "/event_type");
  }
  // Integers: int64 overflow, fractions, exponents.
  for (const v of ["9223372036854775808", "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890", "1e400"]) {
    add(`occurred_at_ms ${v}`, rawObject(replacePair(okPairs, "occurred_at_ms", v)), "/occurred_at_ms");
  }
  for (const v of ["1.5", "1e-2", "-0.5"]) {
    add(`occurred_at_ms ${v}`, rawObject(replacePair(okPairs, "occurred_at_ms", v)), "/occurred_at_ms");
  }
  for (const v of ["1.0", "1775121700000.0", "1e3", "1E+2", "10e-1", "-0.0"]) {
    add(`occurred_at_ms ${v}`, rawObject(replacePair(okPairs, "occurred_at_ms", v)), "/occurred_at_ms", true, "json-integer");
  }
  for (const type of model.eventTypes) {
    const ev = base(type);
    for (const f of model.variants[type].fields.filter((x) => x.type === "integer")) {
      const variants = [
        ["9223372036854775808", true],
        ["-9223372036854775809", true],
        ["1.0", true],
        ["1e3", true],
        ["1E+2", true],
        ["1.5", false],
      ];
      for (const [v, accepts] of variants) {
        const dp = replacePair(detailsPairs(model, ev), f.name, v);
        add(
          `${type} details.${f.name} ${v}`,
          rawObject(replacePair(payloadPairs(model, ev), "details", rawObject(dp))),
          `/details/${f.name}`,
          accepts,
          accepts ? "json-integer" : null,
        );
      }
    }
  }
  // Duplicate keys: JSON.parse (and so the schema check) keeps the last one.
  add(
    "duplicate game_id",
    rawObject([["game_id", '"first"'], ...okPairs]),
    "/game_id",
    true,
    "duplicate-key",
  );
  add(
    "duplicate game_id, same value",
    rawObject([...okPairs, ["game_id", str(base("container_exited").game_id)]]),
    "/game_id",
    true,
    "duplicate-key",
  );
  add(
    "duplicate event_type",
    rawObject([["event_type", '"probe_recovered"'], ...okPairs]),
    "/event_type",
    true,
    "duplicate-key",
  );
  add(
    "duplicate details",
    rawObject([...okPairs, ["details", '{"exit_code":1,"oom":true}']]),
    "/details",
    true,
    "duplicate-key",
  );
  add(
    "duplicate details.exit_code",
    rawObject(replacePair(okPairs, "details", '{"exit_code":1,"exit_code":2,"oom":false}')),
    "/details/exit_code",
    true,
    "duplicate-key",
  );
  add(
    "duplicate details.oom",
    rawObject(replacePair(okPairs, "details", '{"exit_code":1,"oom":false,"oom":true}')),
    "/details/oom",
    true,
    "duplicate-key",
  );
  // Invalid UTF-8: raw bytes inside a field's string, in a key, and outside any string.
  const started = payloadPairs(model, base("container_started"));
  const inspect = payloadPairs(model, base("inspect_unhealthy"));
  const probe = payloadPairs(model, base("probe_failed"));
  const bytes = (...b) => Buffer.from(b);
  const q = (...parts) => concat(['"', ...parts, '"']);
  add("raw 0xFF in game_id", rawObject(replacePair(okPairs, "game_id", q("g", bytes(0xff), "x"))), "/game_id");
  add("encoded surrogate in container_id", rawObject(replacePair(okPairs, "container_id", q(bytes(0xed, 0xa0, 0x80)))), "/container_id");
  add(
    "overlong '/' in image_ref",
    rawObject(replacePair(started, "details", rawObject([["image_ref", q("a", bytes(0xc0, 0xaf))]]))),
    "/details/image_ref",
  );
  add(
    "code point above U+10FFFF in state",
    rawObject(
      replacePair(
        inspect,
        "details",
        rawObject([["restart_count", "1"], ["state", q(bytes(0xf4, 0x90, 0x80, 0x80))], ["health", '""']]),
      ),
    ),
    "/details/state",
  );
  add(
    "truncated sequence in last_error",
    rawObject(
      replacePair(
        probe,
        "details",
        rawObject([["consecutive_failures", "3"], ["last_status", "0"], ["last_error", q("x", bytes(0xe2, 0x82))]]),
      ),
    ),
    "/details/last_error",
  );
  add("lone continuation byte in event_type", rawObject(replacePair(okPairs, "event_type", q(bytes(0x80)))), "/event_type");
  add("invalid UTF-8 in a key", rawObject([...okPairs, [q(bytes(0xfe)), "1"]]), "/");
  add("invalid UTF-8 outside any string", concat([rawObject(okPairs), bytes(0xff)]), "/");
  // Lone surrogate escapes: valid JSON syntax, but no UTF-8 form.
  add("lone high surrogate escape in game_id", rawObject(replacePair(okPairs, "game_id", '"\\ud800"')), "/game_id", true, "utf8");
  add(
    "lone low surrogate escape in image_ref",
    rawObject(replacePair(started, "details", '{"image_ref":"x\\udc00"}')),
    "/details/image_ref",
    true,
    "utf8",
  );
  add(
    "high surrogate escape before a non-surrogate in last_error",
    rawObject(
      replacePair(probe, "details", '{"consecutive_failures":3,"last_status":0,"last_error":"\\ud83d\\u0041"}'),
    ),
    "/details/last_error",
    true,
    "utf8",
  );
  // Not an object.
  for (const v of ["[]", '"x"', "1", "-1.5", "null", "true", "false", `[${rawObject(okPairs)}]`]) {
    add(`not an object: ${v.slice(0, 20)}`, v, "/");
  }
  // Nesting and size far beyond anything valid.
  add("10000 unterminated [", "[".repeat(10000), "/");
  add("10000 nested arrays", `${"[".repeat(10000)}${"]".repeat(10000)}`, "/");
  // Too deep inside an object: the decoder names the top-level field (or details field) that
  // holds the deep value, as it does for any error found inside a field's value.
  add("10000 nested objects, unterminated", '{"a":'.repeat(10000), "/a");
  add(
    "100 nested arrays in details.image_ref",
    rawObject(replacePair(started, "details", rawObject([["image_ref", `${"[".repeat(100)}${"]".repeat(100)}`]]))),
    "/details/image_ref",
  );
  add(
    "100 nested arrays in game_id",
    rawObject(replacePair(okPairs, "game_id", `${"[".repeat(100)}${"]".repeat(100)}`)),
    "/game_id",
  );
  add(
    "10 MB image_ref",
    rawObject(replacePair(started, "details", rawObject([["image_ref", str("a".repeat(10 * 1024 * 1024))]]))),
    "/",
    true,
    "size-limit",
  );
  // Empty ids: schema-valid, never produced.
  add("empty game_id", rawObject(replacePair(okPairs, "game_id", '""')), "/game_id", true, "empty-id");
  add("empty container_id", rawObject(replacePair(okPairs, "container_id", '""')), "/container_id", true, "empty-id");
  // Syntax: trailing garbage, trailing comma, truncation, non-JSON literals.
  const ok = rawObject(okPairs);
  add("trailing garbage", `${ok}x`, "/");
  add("two objects on one line", `${ok} {}`, "/");
  add("trailing comma after the object", `${ok},`, "/");
  add("trailing comma inside the object", `${ok.slice(0, -1)},}`, "/");
  add("truncated object", ok.slice(0, -1), "/");
  add("single-quoted key", ok.replace('"game_id"', "'game_id'"), "/");
  // A syntax error inside a field's value names that field, like invalid UTF-8 there does.
  add("NaN literal", rawObject(replacePair(okPairs, "occurred_at_ms", "NaN")), "/occurred_at_ms");
  add("unquoted string value", rawObject(replacePair(okPairs, "game_id", "game")), "/game_id");
  add("comment", `/* c */${ok}`, "/");
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Entries (field name -> string value, as a Redis client returns them).

// Returns {fields, ev}: the field list of each entry (entryLine makes it a line) and its event.
function validEntries(model, evs) {
  const lines = evs.map((ev) => ({ fields: entryPairs(model, ev), ev }));
  // Any field order, and details JSON spelled non-canonically, are fine for a reader.
  const ev = event("probe_failed", sampleDetails("probe_failed"));
  lines.push({ fields: [...entryPairs(model, ev)].reverse(), ev });
  lines.push({
    fields: replacePair(
      entryPairs(model, ev),
      "details",
      ' { "last_error" : "context deadline exceeded" , "last_status":0,"consecutive_failures":3 } ',
    ),
    ev,
  });
  return lines;
}

function invalidEntries(model) {
  const cases = [];
  const add = (name, input, pth, ajvAccepts = false, stricter = null, fields = null) =>
    cases.push({ name, input, path: pth, ajv_accepts: ajvAccepts, stricter, fields });
  const addE = (name, fields, pth, ajvAccepts = false, stricter = null) =>
    add(name, entryLine(fields), pth, ajvAccepts, stricter, fields);
  const ev = event("container_exited", sampleDetails("container_exited"));
  const pairs = entryPairs(model, ev);
  const withField = (f, v) => replacePair(pairs, f, v);

  for (const f of model.topFields) {
    addE(`entry missing ${f}`, pairs.filter(([k]) => k !== f), `/${f}`);
  }
  for (const f of model.topFields) {
    addE(`entry repeated ${f}`, [...pairs, [f, pairs.find(([k]) => k === f)[1]]], `/${f}`, true, "duplicate-key");
  }
  addE("entry unknown field", [...pairs, ["extra", "1"]], "/extra");
  add("entry field with a non-string value", rawObject(replacePair(pairs.map(([k, v]) => [k, str(v)]), "occurred_at_ms", "1775121800000")), "/occurred_at_ms");
  add("entry not an object", `[${entryLine(pairs)}]`, "/");
  add("entry not JSON", entryLine(pairs).slice(0, -1), "/");
  // occurred_at_ms must be canonical decimal. Spellings that are still JSON numbers with an
  // int64 value are what the schema would accept after a plain JSON parse.
  const canonicalRule = [
    ["+1", false],
    ["01", false],
    [" 1", false],
    ["1 ", false],
    ["", false],
    ["0x10", false],
    ["1_000", false],
    ["abc", false],
    ["9223372036854775808", false],
    ["-9223372036854775809", false],
    ["1.0", true],
    ["-0", true],
    ["1e3", true],
    ["1.5", false],
  ];
  for (const [v, accepts] of canonicalRule) {
    addE(`entry occurred_at_ms ${JSON.stringify(v)}`, withField("occurred_at_ms", v), "/occurred_at_ms", accepts, accepts ? "entry-integer" : null);
  }
  // details must be a JSON object of the right variant.
  for (const v of ['"{}"', JSON.stringify(canonicalDetails(model, ev)), "null", "not json", "", "[]", "{} x", "1", "{"]) {
    addE(`entry details ${JSON.stringify(v).slice(0, 40)}`, withField("details", v), "/details");
  }
  addE("entry details missing exit_code", withField("details", '{"oom":false}'), "/details/exit_code");
  addE("entry details unknown field", withField("details", '{"exit_code":1,"oom":false,"x":1}'), "/details/x");
  addE("entry details wrong type", withField("details", '{"exit_code":"1","oom":false}'), "/details/exit_code");
  addE("entry details overflow", withField("details", '{"exit_code":9223372036854775808,"oom":false}'), "/details/exit_code", true, "json-integer");
  addE("entry details fraction", withField("details", '{"exit_code":1.0,"oom":false}'), "/details/exit_code", true, "json-integer");
  addE("entry details duplicate key", withField("details", '{"exit_code":1,"oom":false,"oom":true}'), "/details/oom", true, "duplicate-key");
  addE("entry details of another variant", withField("details", '{"image_ref":"x"}'), "/details", true, "variant-mismatch");
  addE(
    "entry details of another variant, a subset of this one",
    withField("details", '{"exit_code":137}'),
    "/details/oom",
    true,
    "variant-mismatch",
  );
  addE("entry details too deep", withField("details", "[".repeat(10000)), "/details");
  // Over DecodeLimits::max_bytes (64 KiB): the details value is named. A 10 MB line is over the
  // reader's line bound and is rejected as a whole.
  addE(
    "entry details 100 KB",
    entryPairs(model, event("container_started", { image_ref: "a".repeat(100 * 1024) })),
    "/details",
    true,
    "size-limit",
  );
  addE(
    "entry line 10 MB",
    entryPairs(model, event("container_started", { image_ref: "a".repeat(10 * 1024 * 1024) })),
    "/",
    true,
    "size-limit",
  );
  addE("entry unknown event_type", withField("event_type", "container_restarted"), "/event_type");
  addE("entry empty game_id", withField("game_id", ""), "/game_id", true, "empty-id");
  addE("entry empty container_id", withField("container_id", ""), "/container_id", true, "empty-id");
  add("entry raw 0xFF in game_id", rawObject(replacePair(pairs.map(([k, v]) => [k, str(v)]), "game_id", concat(['"g', Buffer.from([0xff]), '"']))), "/game_id");
  return cases;
}

// ---------------------------------------------------------------------------------------------

function writeLines(file, inputs) {
  const parts = [];
  for (const input of inputs) {
    const buf = typeof input === "string" ? Buffer.from(input, "utf8") : input;
    if (buf.includes(0x0a)) {
      throw new Error(`generator bug: a line holds a raw LF: ${buf.subarray(0, 80)}`);
    }
    parts.push(buf, Buffer.from("\n"));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

function writeExpected(file, cases) {
  writeLines(
    file,
    cases.map((c) =>
      JSON.stringify({ case: c.name, path: c.path, ajv_accepts: c.ajv_accepts, stricter: c.stricter }),
    ),
  );
}

function checkCases(cases) {
  const names = new Set();
  for (const c of cases) {
    if (names.has(c.name)) {
      throw new Error(`generator bug: duplicate case name ${c.name}`);
    }
    names.add(c.name);
    if (c.ajv_accepts !== (c.stricter !== null) || (c.stricter !== null && !STRICTER[c.stricter])) {
      throw new Error(`generator bug: case ${c.name} accepted by the schema without a documented rule`);
    }
  }
}

// Entry seeds use the layout of fuzz/contract_entry_fuzz.cpp: "name=value" records joined by LF.
function entryRecords(fields) {
  if (fields.some(([k, v]) => typeof v !== "string" || `${k}${v}`.includes("\n") || k.includes("="))) {
    return null;
  }
  return fields.map(([k, v]) => `${k}=${v}`).join("\n");
}

function writeCorpus(dir, validTexts, validFields, invalid, invalidE) {
  const seed = (sub, name, input) => {
    const buf = typeof input === "string" ? Buffer.from(input, "utf8") : (input ?? Buffer.alloc(0));
    // libFuzzer's default -max_len is 4096; larger seeds would only be truncated.
    if (input !== null && buf.length <= 4096) {
      fs.mkdirSync(path.join(dir, sub), { recursive: true });
      fs.writeFileSync(path.join(dir, sub, name), buf);
    }
  };
  const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
  // "conf-" marks the seeds this generator owns: regenerate with
  // rm fuzz/corpus/*/conf-* && node tests/conformance/generate.mjs --corpus fuzz/corpus
  const num = (i) => String(i).padStart(3, "0");
  validTexts.forEach((t, i) => seed("contract_payload", `conf-valid-${num(i)}`, t));
  invalid.forEach((c, i) => seed("contract_payload", `conf-invalid-${num(i)}-${slug(c.name)}`, c.input));
  validFields.forEach((f, i) => seed("contract_entry", `conf-valid-${num(i)}`, entryRecords(f)));
  invalidE.forEach(
    (c, i) => c.fields && seed("contract_entry", `conf-invalid-${num(i)}-${slug(c.name)}`, entryRecords(c.fields)),
  );
}

function main() {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const out = opt("--out", null);
  const corpus = opt("--corpus", null);
  const contractPath = opt(
    "--contract",
    path.join(here, "..", "..", "contract", "runtime-health-events.asyncapi.yaml"),
  );
  if (!out && !corpus) {
    process.stderr.write("usage: generate.mjs --out DIR [--contract FILE] [--corpus DIR]\n");
    process.exit(2);
  }
  const model = loadModel(contractPath);

  const evs = validEvents(model);
  const valid = evs.map((ev) => ({ text: canonicalPayload(model, ev), ev }));
  valid.push(...nonCanonicalValid(model));
  const validE = validEntries(model, evs);
  const entryFields = validE.map((e) => e.fields);
  const entries = entryFields.map(entryLine);
  const invalid = invalidPayloads(model);
  const invalidE = invalidEntries(model);
  checkCases(invalid);
  checkCases(invalidE);

  if (out) {
    fs.mkdirSync(out, { recursive: true });
    writeLines(path.join(out, "valid.jsonl"), valid.map((v) => v.text));
    writeLines(path.join(out, "valid.canonical.jsonl"), valid.map((v) => canonicalPayload(model, v.ev)));
    writeLines(path.join(out, "valid-entries.jsonl"), entries);
    writeLines(
      path.join(out, "valid-entries.canonical.jsonl"),
      validE.map((e) => entryLine(entryPairs(model, e.ev))),
    );
    writeLines(path.join(out, "invalid.jsonl"), invalid.map((c) => c.input));
    writeExpected(path.join(out, "invalid.expected.jsonl"), invalid);
    writeLines(path.join(out, "invalid-entries.jsonl"), invalidE.map((c) => c.input));
    writeExpected(path.join(out, "invalid-entries.expected.jsonl"), invalidE);
  }
  if (corpus) {
    writeCorpus(corpus, valid.map((v) => v.text), entryFields, invalid, invalidE);
  }
  process.stdout.write(
    `generated ${valid.length} valid payloads, ${entries.length} valid entries, ` +
      `${invalid.length} invalid payloads, ${invalidE.length} invalid entries\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main();
}
