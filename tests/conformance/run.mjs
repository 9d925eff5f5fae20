#!/usr/bin/env node
// Contract conformance: our decoder (`galaxy-health validate`) against the contract's JSON Schema
// (ajv, schema_check.mjs) on generated valid and invalid sets.
//
//   node run.mjs --galaxy-health BIN --work DIR [--contract FILE]
//
// Fails when: a valid line is rejected by either side; an invalid line is accepted by ours or
// rejected at another path than expected; the schema's verdict on an invalid line differs from
// the generator's expectation; the schema accepts an invalid line that is not one of the
// documented places where the product is stricter; the canonical re-encoding of a valid line
// differs from the expected one; the CLI's exit codes or line accounting are off.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { STRICTER } from "./generate.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const MAX_BUFFER = 512 * 1024 * 1024;

const failures = [];
const fail = (msg) => failures.push(msg);

function parseArgs(argv) {
  const opts = {
    contract: path.join(here, "..", "..", "contract", "runtime-health-events.asyncapi.yaml"),
    bin: null,
    work: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) {
      usage(`${k} needs a value`);
    }
    if (k === "--galaxy-health") {
      opts.bin = v;
    } else if (k === "--work") {
      opts.work = v;
    } else if (k === "--contract") {
      opts.contract = v;
    } else {
      usage(`unknown option ${k}`);
    }
  }
  if (!opts.bin || !opts.work) {
    usage("--galaxy-health and --work are required");
  }
  return opts;
}

function usage(msg) {
  process.stderr.write(`run.mjs: ${msg}\nusage: run.mjs --galaxy-health BIN --work DIR [--contract FILE]\n`);
  process.exit(2);
}

function run(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, maxBuffer: MAX_BUFFER });
  if (r.error) {
    throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  }
  return { status: r.status, signal: r.signal, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
}

function outputLines(text) {
  const lines = text.split("\n");
  if (lines.at(-1) === "") {
    lines.pop();
  }
  return lines;
}

function readLines(file) {
  return outputLines(fs.readFileSync(file, "utf8"));
}

function countLines(file) {
  const buf = fs.readFileSync(file);
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    n += 1;
  }
  return n;
}

// One JSON result object per input line, numbered from 1.
function perLine(label, r, expectedCount) {
  const lines = outputLines(r.stdout);
  if (lines.length !== expectedCount) {
    fail(`${label}: ${lines.length} output lines for ${expectedCount} input lines (exit ${r.status}, stderr: ${r.stderr.slice(0, 500)})`);
  }
  return lines.map((l, i) => {
    let o;
    try {
      o = JSON.parse(l);
    } catch {
      fail(`${label}: output line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
      return null;
    }
    if (o.line !== i + 1) {
      fail(`${label}: output line ${i + 1} says line ${o.line}`);
    }
    return o;
  });
}

function schemaCheck(opts, format, file) {
  const r = run(process.execPath, [path.join(here, "schema_check.mjs"), "--contract", opts.contract, "--format", format, file]);
  if (r.status === 2 || r.signal) {
    throw new Error(`schema_check failed on ${file}: ${r.stderr}`);
  }
  return perLine(`schema_check ${path.basename(file)}`, r, countLines(file));
}

function ours(opts, args, file) {
  const r = run(opts.bin, ["validate", ...args, file]);
  if (r.signal) {
    fail(`galaxy-health validate ${args.join(" ")} ${path.basename(file)}: killed by ${r.signal}`);
  }
  return r;
}

function checkValid(opts, format, file) {
  const name = path.basename(file);
  const n = countLines(file);
  const inputs = readLines(file);
  schemaCheck(opts, format, file).forEach((o, i) => {
    if (o && !o.valid) {
      fail(`schema rejects valid ${name}:${i + 1}: ${JSON.stringify(o.errors)}\n    input: ${inputs[i].slice(0, 300)}`);
    }
  });
  const r = ours(opts, ["--json", "--format", format], file);
  if (r.status !== 0) {
    fail(`galaxy-health validate ${name}: exit ${r.status}, want 0 (all valid)`);
  }
  perLine(`galaxy-health ${name}`, r, n).forEach((o, i) => {
    if (o && o.valid !== true) {
      fail(`ours rejects valid ${name}:${i + 1}: ${o.path}: ${o.reason}\n    input: ${inputs[i].slice(0, 300)}`);
    }
  });
}

function checkInvalid(opts, format, file, expectedFile) {
  const name = path.basename(file);
  const expected = readLines(expectedFile).map((l) => JSON.parse(l));
  const n = countLines(file);
  if (n !== expected.length) {
    throw new Error(`${name}: ${n} lines but ${expected.length} expectations`);
  }
  const notes = [];
  schemaCheck(opts, format, file).forEach((o, i) => {
    const e = expected[i];
    if (!o) {
      return;
    }
    if (o.valid !== e.ajv_accepts) {
      fail(`schema ${o.valid ? "accepts" : "rejects"} ${name}:${i + 1} "${e.case}", expected the opposite: ${JSON.stringify(o.errors)}`);
    }
    if (o.valid) {
      if (!e.stricter || !STRICTER[e.stricter]) {
        fail(`schema accepts ${name}:${i + 1} "${e.case}" and no documented rule makes us stricter`);
      } else {
        notes.push(`stricter than the schema on purpose: ${e.case} [${STRICTER[e.stricter]}]`);
      }
    }
  });

  const r = ours(opts, ["--json", "--format", format], file);
  if (r.status !== 1) {
    fail(`galaxy-health validate ${name}: exit ${r.status}, want 1 (some invalid)`);
  }
  const results = perLine(`galaxy-health ${name}`, r, n);
  results.forEach((o, i) => {
    const e = expected[i];
    if (!o) {
      return;
    }
    if (o.valid !== false) {
      fail(`ours accepts invalid ${name}:${i + 1} "${e.case}" (expected path ${e.path})`);
    } else if (o.path !== e.path) {
      fail(`ours rejects ${name}:${i + 1} "${e.case}" at ${o.path} (${o.reason}), expected path ${e.path}`);
    } else if (typeof o.reason !== "string" || o.reason === "") {
      fail(`ours rejects ${name}:${i + 1} "${e.case}" without a reason`);
    }
  });

  // The human form says the same as the JSON form: "invalid: <path>: <reason>".
  const plain = ours(opts, ["--format", format], file);
  if (plain.status !== 1) {
    fail(`galaxy-health validate (plain) ${name}: exit ${plain.status}, want 1`);
  }
  const plainLines = outputLines(plain.stdout);
  if (plainLines.length !== n) {
    fail(`galaxy-health validate (plain) ${name}: ${plainLines.length} output lines for ${n} input lines`);
  }
  plainLines.forEach((l, i) => {
    const o = results[i];
    if (o && o.valid === false && !l.startsWith(`invalid: ${o.path}: `)) {
      fail(`plain output for ${name}:${i + 1} "${expected[i].case}" is "${l.slice(0, 200)}", want "invalid: ${o.path}: <reason>"`);
    }
  });
  return notes;
}

function checkCanonical(opts, format, file, canonicalFile) {
  const name = path.basename(file);
  const inputs = readLines(file);
  const want = readLines(canonicalFile);
  const r = ours(opts, ["--canonical", "--format", format], file);
  if (r.status !== 0) {
    fail(`galaxy-health validate --canonical ${name}: exit ${r.status}, want 0: ${r.stderr.slice(0, 300)}`);
    return;
  }
  const got = outputLines(r.stdout);
  if (got.length !== want.length) {
    fail(`--canonical ${name}: ${got.length} lines for ${want.length} inputs`);
  }
  let same = 0;
  want.forEach((w, i) => {
    if (got[i] !== w) {
      fail(`--canonical ${name}:${i + 1}: got ${JSON.stringify(got[i]?.slice(0, 300))}\n    want ${JSON.stringify(w.slice(0, 300))}`);
    }
    same += inputs[i] === w ? 1 : 0;
  });
  process.stdout.write(
    `round trip ${name}: ${same} canonical lines reproduced byte for byte, ${want.length - same} non-canonical lines re-encoded\n`,
  );
}

function checkCli(opts, work) {
  // stdin gives the same answers as a file.
  const file = path.join(work, "valid-entries.jsonl");
  const fromFile = ours(opts, ["--json", "--format", "entry"], file);
  const fromStdin = run(opts.bin, ["validate", "--json", "--format", "entry"], fs.readFileSync(file));
  // JSON results name their file; stdin has none.
  const withoutFile = (out) =>
    outputLines(out).map((l) => {
      const { file: _file, ...rest } = JSON.parse(l);
      return JSON.stringify(rest);
    });
  if (
    fromStdin.status !== 0 ||
    JSON.stringify(withoutFile(fromStdin.stdout)) !== JSON.stringify(withoutFile(fromFile.stdout))
  ) {
    fail(`validate from stdin differs from validate FILE (exit ${fromStdin.status})`);
  }
  const badFormat = run(opts.bin, ["validate", "--format", "bogus", file]);
  if (badFormat.status !== 2) {
    fail(`validate --format bogus: exit ${badFormat.status}, want 2`);
  }
  const missing = run(opts.bin, ["validate", path.join(work, "no-such-file.jsonl")]);
  if (missing.status !== 2) {
    fail(`validate on a missing file: exit ${missing.status}, want 2`);
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.bin)) {
    usage(`no galaxy-health binary at ${opts.bin}`);
  }
  const gen = run(process.execPath, [path.join(here, "generate.mjs"), "--contract", opts.contract, "--out", opts.work]);
  if (gen.status !== 0) {
    throw new Error(`generate.mjs failed: ${gen.stderr}`);
  }
  process.stdout.write(gen.stdout);
  const w = (f) => path.join(opts.work, f);

  checkValid(opts, "payload", w("valid.jsonl"));
  checkValid(opts, "entry", w("valid-entries.jsonl"));
  const notes = [
    ...checkInvalid(opts, "payload", w("invalid.jsonl"), w("invalid.expected.jsonl")),
    ...checkInvalid(opts, "entry", w("invalid-entries.jsonl"), w("invalid-entries.expected.jsonl")),
  ];
  checkCanonical(opts, "payload", w("valid.jsonl"), w("valid.canonical.jsonl"));
  checkCanonical(opts, "entry", w("valid-entries.jsonl"), w("valid-entries.canonical.jsonl"));
  checkCli(opts, opts.work);

  for (const n of notes) {
    process.stdout.write(`note: ${n}\n`);
  }
  if (failures.length > 0) {
    process.stdout.write(`\n${failures.length} conformance failure(s):\n`);
    for (const f of failures) {
      process.stdout.write(`FAIL ${f}\n`);
    }
    process.exit(1);
  }
  process.stdout.write(`conformance: all checks passed (${notes.length} documented strictness notes)\n`);
}

main();
