#!/bin/sh
# Runs OPEA's ChatQnA on megaflow with the bundled mock services. It
# builds bin/megaflow and the plugins, and starts the embedding,
# retriever, rerank and llm mocks on 127.0.0.1 at the ports that
# config/examples/chatqna.toml expects. Then it serves that file until
# Ctrl-C, which stops the mocks too. It needs Go only. The megaservice
# listens on MEGAFLOW_LISTEN, by default 0.0.0.0:8000.
set -eu
cd "$(dirname "$0")/../.."

make build plugins

pids=""
stop() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
}
trap stop EXIT
trap 'exit 130' INT TERM

for mock in embedding:6006 retriever:7000 rerank:8808 llm:9009; do
	bin/megaflow mock "${mock%%:*}" --listen "127.0.0.1:${mock##*:}" &
	pids="$pids $!"
done

bin/megaflow serve --config config/examples/chatqna.toml
