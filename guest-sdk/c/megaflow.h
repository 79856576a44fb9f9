/*
 * megaflow.h: the C guest SDK for megaflow plugins, WebAssembly modules
 * that shape requests, responses and server-sent events, combine the
 * outputs of several nodes, or choose which nodes run next.
 *
 * A plugin defines its hooks as functions and names them once with
 * MEGAFLOW_PLUGIN; megaflow.c provides the module's ABI exports (ABI
 * version 1, docs/ABI.md in the megaflow repository):
 *
 *     #include "megaflow.h"
 *
 *     static megaflow_status response(megaflow_bytes output) {
 *         megaflow_write(output.data, output.len);
 *         return MEGAFLOW_OK;
 *     }
 *
 *     MEGAFLOW_PLUGIN(.response = response);
 *
 * Build it as a WASI reactor with clang's wasm32 target:
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -O2 \
 *         -o plugin.wasm megaflow.c plugin.c
 *
 * Byte ranges passed to a hook are valid only until it returns. Output is
 * collected by the SDK and handed to the host when the hook returns. The
 * module is single-threaded and the host runs one call per instance at a
 * time, so none of these functions needs locking.
 */
#ifndef MEGAFLOW_H
#define MEGAFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this SDK implements. */
#define MEGAFLOW_ABI_VERSION 1

/*
 * A hook's result: MEGAFLOW_OK, MEGAFLOW_UNCHANGED, a short-circuit
 * response status from megaflow_respond or a failure status from
 * megaflow_fail.
 */
typedef int32_t megaflow_status;

/* Success: the hook's output replaces its input. */
#define MEGAFLOW_OK ((megaflow_status)0)
/*
 * Pass-through: the input stays as it was, and anything written is
 * discarded. For a route hook it selects every successor.
 */
#define MEGAFLOW_UNCHANGED ((megaflow_status)1)

/* Log levels, numbered as in Go's log/slog. */
typedef enum {
	MEGAFLOW_LEVEL_DEBUG = -4,
	MEGAFLOW_LEVEL_INFO = 0,
	MEGAFLOW_LEVEL_WARN = 4,
	MEGAFLOW_LEVEL_ERROR = 8,
} megaflow_level;

/* A byte range, not NUL-terminated. */
typedef struct {
	const uint8_t *data;
	size_t len;
} megaflow_bytes;

/* MEGAFLOW_LITERAL("text") is the megaflow_bytes of a string literal. */
#define MEGAFLOW_LITERAL(s) ((megaflow_bytes){(const uint8_t *)(s), sizeof(s) - 1})

/* One named input of an aggregate hook. */
typedef struct {
	megaflow_bytes name;         /* the predecessor node's name */
	megaflow_bytes content_type; /* empty when unknown */
	megaflow_bytes data;         /* the predecessor's output */
} megaflow_input;

/* The input of a request hook. */
typedef struct {
	megaflow_bytes body;    /* the node's input */
	megaflow_bytes headers; /* a header block, read with megaflow_next_header */
} megaflow_request;

/*
 * The hooks a plugin implements. A NULL member is a hook it does not
 * implement. init receives the plugin's configuration as JSON (empty when
 * there is none) once per instance, before any hook. A failure status from
 * init fails the plugin's loading with the output as the message.
 */
typedef struct {
	megaflow_status (*init)(megaflow_bytes config);
	megaflow_status (*request)(const megaflow_request *request);
	megaflow_status (*response)(megaflow_bytes output);
	megaflow_status (*event)(megaflow_bytes event);
	megaflow_status (*aggregate)(const megaflow_input *inputs, size_t count);
	megaflow_status (*route)(megaflow_bytes output, const megaflow_bytes *successors, size_t count);
} megaflow_plugin;

/* The plugin's hooks, defined by MEGAFLOW_PLUGIN in the plugin's source. */
extern const megaflow_plugin megaflow_plugin_hooks;

/*
 * MEGAFLOW_PLUGIN(.response = f, ...) defines the plugin's hooks. Use it
 * once, in one source file.
 */
#define MEGAFLOW_PLUGIN(...) const megaflow_plugin megaflow_plugin_hooks = {__VA_ARGS__}

/*
 * Splits the first header off *headers into *name and *value. Returns 1,
 * or 0 at the end of the block or at a truncated header.
 */
int megaflow_next_header(megaflow_bytes *headers, megaflow_bytes *name, megaflow_bytes *value);

/*
 * Appends len bytes at p to the hook's output. Returns 0, or -1 when
 * memory is exhausted, and then the call fails with status 500.
 */
int megaflow_write(const void *p, size_t len);

/* Appends a NUL-terminated string to the hook's output. */
int megaflow_write_str(const char *s);

/* Appends the decimal digits of n to the hook's output. */
int megaflow_write_uint(uint64_t n);

/* Marks a successor to run, from a route hook. */
int megaflow_select(megaflow_bytes name);

/*
 * Discards the output and returns a failure with an HTTP status from 400
 * to 599 (another value becomes 500) and a message, which the host logs
 * and reports to the client.
 */
megaflow_status megaflow_fail(int status, const char *message);
megaflow_status megaflow_fail_bytes(int status, megaflow_bytes message);

/*
 * Responds to the client with status (200 to 399) and body in place of
 * calling the node's service, from a request hook only. Another status
 * fails the call with 500.
 */
megaflow_status megaflow_respond(int status, megaflow_bytes body);

/* Sets an outgoing header, replacing any of the same name, from a request hook only. */
void megaflow_set_header(megaflow_bytes name, megaflow_bytes value);

/* Removes an outgoing header, from a request hook only. */
void megaflow_delete_header(megaflow_bytes name);

/*
 * Sends a message to the host's log, tagged with the plugin's name. The
 * host rate-limits plugin logs.
 */
void megaflow_log(megaflow_level level, const char *message);
void megaflow_log_bytes(megaflow_level level, megaflow_bytes message);

#ifdef __cplusplus
}
#endif

#endif /* MEGAFLOW_H */
