#!/bin/sh
# Runs OPEA's ChatQnA on megaflow with the bundled mock services. It
# builds bin/megaflow and the plugins, and starts the embedding,
# retriever, rerank and llm mocks on 127.0.0.1 at the ports that
# config/examples/chatqna.toml reads. Then it serves that file until
# Ctrl-C, which stops the mocks too. It needs Go only.
#
# Environment, each with its default:
#   MEGAFLOW_LISTEN=0.0.0.0:8000         the megaservice (OpenAI and OPEA routes)
#   MEGAFLOW_ADMIN_LISTEN=127.0.0.1:8001 metrics and health
#   EMBEDDING_SERVER_PORT=6006  RETRIEVER_SERVICE_PORT=7000
#   RERANK_SERVER_PORT=8808     LLM_SERVER_PORT=9009
# For example, when 8000 and 8001 are taken:
#   MEGAFLOW_LISTEN=127.0.0.1:18000 MEGAFLOW_ADMIN_LISTEN=127.0.0.1:18001 tests/chatqna/run.sh
set -eu
cd "$(dirname "$0")/../.."

: "${EMBEDDING_SERVER_PORT:=6006}" "${RETRIEVER_SERVICE_PORT:=7000}"
: "${RERANK_SERVER_PORT:=8808}" "${LLM_SERVER_PORT:=9009}"
: "${MEGAFLOW_LISTEN:=0.0.0.0:8000}" "${MEGAFLOW_ADMIN_LISTEN:=127.0.0.1:8001}"
export EMBEDDING_SERVER_PORT RETRIEVER_SERVICE_PORT RERANK_SERVER_PORT LLM_SERVER_PORT
export MEGAFLOW_LISTEN MEGAFLOW_ADMIN_LISTEN
# The mocks run on 127.0.0.1, so a host set for a real deployment must not
# send the example elsewhere.
unset EMBEDDING_SERVER_HOST_IP RETRIEVER_SERVICE_HOST_IP RERANK_SERVER_HOST_IP LLM_SERVER_HOST_IP

make build plugins

pids=""
stop() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
}
trap stop EXIT
trap 'exit 130' INT TERM

for mock in embedding:$EMBEDDING_SERVER_PORT retriever:$RETRIEVER_SERVICE_PORT \
	rerank:$RERANK_SERVER_PORT llm:$LLM_SERVER_PORT; do
	bin/megaflow mock "${mock%%:*}" --listen "127.0.0.1:${mock##*:}" &
	pids="$pids $!"
done

# serve runs in the background so that a SIGTERM or SIGINT sent to this
# script, by PID or with Ctrl-C, is passed on to it at once: a shell runs
# its traps only after a foreground command ends.
bin/megaflow serve --config config/examples/chatqna.toml &
serve=$!
trap 'kill -TERM "$serve" 2>/dev/null || true' INT TERM
status=0
wait "$serve" || status=$?
while kill -0 "$serve" 2>/dev/null; do
	# A trapped signal ended the wait early; wait for serve's own status.
	status=0
	wait "$serve" || status=$?
done
if [ "$status" -ne 0 ] && [ "$status" -ne 130 ]; then
	echo "run.sh: megaflow serve exited with status $status. If an address is taken, move it with" \
		"MEGAFLOW_LISTEN (now $MEGAFLOW_LISTEN) and MEGAFLOW_ADMIN_LISTEN (now $MEGAFLOW_ADMIN_LISTEN)," \
		"and a mock with its *_PORT variable; see the top of tests/chatqna/run.sh." >&2
fi
exit "$status"
