#!/bin/sh
# CTest entry for the contract conformance suite. A missing node or npm module is a failure with
# the fix in the message, never a skip: a suite that silently does not run proves nothing.
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "conformance: node is not installed; run scripts/setup" >&2
  exit 1
fi
if ! (cd "$here" && node -e "require.resolve('ajv'); require.resolve('yaml')") >/dev/null 2>&1; then
  echo "conformance: npm modules ajv/yaml missing in tests/conformance/node_modules; run scripts/setup" >&2
  exit 1
fi
exec node "$here/run.mjs" "$@"
