#!/usr/bin/env node
// Validates JSON lines against RuntimeHealthEventPayload of the AsyncAPI contract with ajv, as an
// independent second opinion on `galaxy-health validate`.
//
//   node schema_check.mjs [--contract FILE] [--format payload|entry] [FILE]   (stdin without FILE)
//
// Prints one JSON object per input line: {"line":N,"valid":bool,"errors":[{"path","message"}]}.
// Exit 0 when every line is valid, 1 when any is invalid, 2 for usage or I/O errors.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  compilePayloadValidator,
  entryToPayload,
  loadContract,
  parseJsonExact,
  splitLines,
} from "./contract_json.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(message) {
  process.stderr.write(
    `schema_check: ${message}\nusage: schema_check.mjs [--contract FILE] [--format payload|entry] [FILE]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    contract: path.join(here, "..", "..", "contract", "runtime-health-events.asyncapi.yaml"),
    format: "payload",
    input: null,
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--contract" || a === "--format") {
      if (i + 1 >= argv.length) {
        usage(`${a} needs a value`);
      }
      opts[a.slice(2)] = argv[++i];
    } else if (a.startsWith("--")) {
      usage(`unknown option ${a}`);
    } else if (opts.input === null) {
      opts.input = a;
    } else {
      usage("at most one input file");
    }
  }
  if (opts.format !== "payload" && opts.format !== "entry") {
    usage(`--format must be payload or entry, not ${opts.format}`);
  }
  return opts;
}

function checkLine(validate, format, bytes) {
  const parsed = parseJsonExact(bytes);
  if (!parsed.ok) {
    return [{ path: "/", message: parsed.error }];
  }
  let payload = parsed.value;
  if (format === "entry") {
    const converted = entryToPayload(payload);
    if (!converted.ok) {
      return [{ path: "/", message: converted.error }];
    }
    payload = converted.value;
  }
  if (validate(payload)) {
    return [];
  }
  return validate.errors.map((e) => ({
    path: e.instancePath === "" ? "/" : e.instancePath,
    message: `${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""}`,
  }));
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let validate;
  let input;
  try {
    validate = compilePayloadValidator(loadContract(opts.contract));
    input = fs.readFileSync(opts.input ?? 0);
  } catch (e) {
    process.stderr.write(`schema_check: ${e.message}\n`);
    process.exit(2);
  }
  let allValid = true;
  const out = [];
  splitLines(input).forEach((bytes, i) => {
    const errors = checkLine(validate, opts.format, bytes);
    allValid &&= errors.length === 0;
    out.push(JSON.stringify({ line: i + 1, valid: errors.length === 0, errors }));
  });
  process.stdout.write(out.length ? `${out.join("\n")}\n` : "");
  process.exitCode = allValid ? 0 : 1;
}

main();
