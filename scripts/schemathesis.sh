#!/usr/bin/env bash
# Runs schemathesis against /openapi.json of a freshly started govrec server on a loopback
# port, with an admin token, bounded in time. Fails on any 5xx and on any response that does
# not match the OpenAPI description. Used by .ci/run; needs target/debug/govrec built first
# (`cargo test --workspace` or `cargo build -p govrec-server` builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${GOVREC_BIN:-${CARGO_TARGET_DIR:-target}/debug/govrec}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$("$binary" token create --role admin --name schemathesis --data "$work/data" 2>/dev/null)
"$binary" serve --data "$work/data" --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then break; fi
  sleep 0.1
done
timeout 900 python3 -m schemathesis.cli run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  -c not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  -n "${SCHEMATHESIS_EXAMPLES:-25}" --generation-deterministic --request-timeout 10
