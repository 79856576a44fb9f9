/*
 * megaflow.c: the ABI exports and helpers declared in megaflow.h. Compile
 * it into every plugin module.
 */
#include "megaflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT(name) __attribute__((import_module("megaflow"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

IMPORT("output") void host_output(const uint8_t *p, uint32_t len);
IMPORT("set_header") void host_set_header(const uint8_t *name, uint32_t name_len, const uint8_t *value, uint32_t value_len);
IMPORT("delete_header") void host_delete_header(const uint8_t *name, uint32_t name_len);
IMPORT("log") void host_log(int32_t level, const uint8_t *p, uint32_t len);

/* Hook bits of megaflow_hooks. */
enum {
	HOOK_REQUEST = 1,
	HOOK_RESPONSE = 2,
	HOOK_EVENT = 4,
	HOOK_AGGREGATE = 8,
	HOOK_ROUTE = 16,
};

/* The largest output buffer kept for the next call, in bytes. */
#define MAX_KEPT_OUTPUT (1u << 20)

/* A growable byte array. */
typedef struct {
	uint8_t *data;
	size_t len, cap;
} buffer;

static buffer input;         /* the buffer the host writes inputs into */
static buffer output;        /* what the current hook wrote */
static int output_failed;    /* a write ran out of memory in this call */
static megaflow_input *inputs; /* aggregate inputs, reused across calls */
static size_t inputs_cap;
static megaflow_bytes *names; /* route successors, reused across calls */
static size_t names_cap;

static int reserve(buffer *b, size_t extra) {
	if (extra <= b->cap - b->len) {
		return 0;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			return -1;
		}
		cap *= 2;
	}
	uint8_t *data = realloc(b->data, cap);
	if (data == NULL) {
		return -1;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

int megaflow_write(const void *p, size_t len) {
	if (len == 0) {
		return 0;
	}
	if (reserve(&output, len) != 0) {
		output_failed = 1;
		return -1;
	}
	memcpy(output.data + output.len, p, len);
	output.len += len;
	return 0;
}

int megaflow_write_str(const char *s) { return megaflow_write(s, strlen(s)); }

int megaflow_write_uint(uint64_t n) {
	char digits[20];
	size_t i = sizeof digits;
	do {
		digits[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	return megaflow_write(digits + i, sizeof digits - i);
}

int megaflow_select(megaflow_bytes name) {
	uint32_t n = (uint32_t)name.len;
	uint8_t frame[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
	if (megaflow_write(frame, sizeof frame) != 0) {
		return -1;
	}
	return megaflow_write(name.data, name.len);
}

megaflow_status megaflow_fail_bytes(int status, megaflow_bytes message) {
	output.len = 0;
	megaflow_write(message.data, message.len);
	return (status >= 400 && status <= 599) ? status : 500;
}

megaflow_status megaflow_fail(int status, const char *message) {
	return megaflow_fail_bytes(status, (megaflow_bytes){(const uint8_t *)message, strlen(message)});
}

megaflow_status megaflow_respond(int status, megaflow_bytes body) {
	if (status < 200 || status > 399) {
		char message[64];
		snprintf(message, sizeof message, "megaflow_respond: status %d is outside 200-399", status);
		return megaflow_fail(500, message);
	}
	output.len = 0;
	megaflow_write(body.data, body.len);
	return status;
}

void megaflow_set_header(megaflow_bytes name, megaflow_bytes value) {
	host_set_header(name.data, (uint32_t)name.len, value.data, (uint32_t)value.len);
}

void megaflow_delete_header(megaflow_bytes name) { host_delete_header(name.data, (uint32_t)name.len); }

void megaflow_log_bytes(megaflow_level level, megaflow_bytes message) {
	host_log(level, message.data, (uint32_t)message.len);
}

void megaflow_log(megaflow_level level, const char *message) {
	host_log(level, (const uint8_t *)message, (uint32_t)strlen(message));
}

/* Splits the first frame off *list into *frame. Returns 0 when there is none. */
static int next_frame(megaflow_bytes *list, megaflow_bytes *frame) {
	if (list->len < 4) {
		return 0;
	}
	const uint8_t *p = list->data;
	size_t n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
	if (n > list->len - 4) {
		return 0;
	}
	frame->data = p + 4;
	frame->len = n;
	list->data += 4 + n;
	list->len -= 4 + n;
	return 1;
}

int megaflow_next_header(megaflow_bytes *headers, megaflow_bytes *name, megaflow_bytes *value) {
	megaflow_bytes rest = *headers;
	if (!next_frame(&rest, name) || !next_frame(&rest, value)) {
		return 0;
	}
	*headers = rest;
	return 1;
}

/* Hands the output to the host and returns the status to it. */
static uint32_t finish(megaflow_status status) {
	if (output_failed) {
		static const char message[] = "the plugin ran out of memory writing its output";
		host_output((const uint8_t *)message, sizeof message - 1);
		status = 500;
	} else if (status != MEGAFLOW_UNCHANGED && output.len > 0) {
		host_output(output.data, (uint32_t)output.len);
	}
	output.len = 0;
	output_failed = 0;
	if (output.cap > MAX_KEPT_OUTPUT) {
		free(output.data);
		output = (buffer){0};
	}
	return (uint32_t)status;
}

static uint32_t not_implemented(const char *hook) {
	char message[64];
	snprintf(message, sizeof message, "the plugin implements no %s hook", hook);
	return finish(megaflow_fail(501, message));
}

/* Points *p at the first n bytes of the input buffer. Returns 0 when the
 * host announced more than the buffer holds. */
static int input_bytes(uint32_t n, megaflow_bytes *p) {
	if (n > input.cap) {
		return 0;
	}
	*p = (megaflow_bytes){input.data, n};
	return 1;
}

static uint32_t truncated(void) {
	return finish(megaflow_fail(500, "the host announced more input than the input buffer holds"));
}

/* Grows a reused array of size-byte elements to hold count elements. */
static int reserve_array(void **array, size_t *cap, size_t count, size_t size) {
	if (count <= *cap) {
		return 0;
	}
	if (count > SIZE_MAX / size) {
		return -1;
	}
	void *grown = realloc(*array, count * size);
	if (grown == NULL) {
		return -1;
	}
	*array = grown;
	*cap = count;
	return 0;
}

EXPORT("megaflow_abi_version") int32_t export_abi_version(void) { return MEGAFLOW_ABI_VERSION; }

EXPORT("megaflow_buffer") uint32_t export_buffer(uint32_t size) {
	if (size > input.cap || input.data == NULL) {
		free(input.data);
		input = (buffer){0};
		size_t cap = size ? size : 1;
		uint8_t *data = malloc(cap);
		if (data == NULL) {
			return 0;
		}
		input = (buffer){data, 0, cap};
	}
	return (uint32_t)(uintptr_t)input.data;
}

EXPORT("megaflow_hooks") uint32_t export_hooks(void) {
	const megaflow_plugin *h = &megaflow_plugin_hooks;
	return (h->request ? HOOK_REQUEST : 0) | (h->response ? HOOK_RESPONSE : 0) | (h->event ? HOOK_EVENT : 0) |
	       (h->aggregate ? HOOK_AGGREGATE : 0) | (h->route ? HOOK_ROUTE : 0);
}

EXPORT("megaflow_init") uint32_t export_init(uint32_t n) {
	megaflow_bytes config;
	if (!input_bytes(n, &config)) {
		return truncated();
	}
	if (megaflow_plugin_hooks.init == NULL) {
		return finish(MEGAFLOW_OK);
	}
	return finish(megaflow_plugin_hooks.init(config));
}

EXPORT("megaflow_request") uint32_t export_request(uint32_t body_len, uint32_t headers_len) {
	if (megaflow_plugin_hooks.request == NULL) {
		return not_implemented("request");
	}
	megaflow_bytes all;
	if (body_len > UINT32_MAX - headers_len || !input_bytes(body_len + headers_len, &all)) {
		return truncated();
	}
	megaflow_request request = {
		.body = {all.data, body_len},
		.headers = {all.data + body_len, headers_len},
	};
	return finish(megaflow_plugin_hooks.request(&request));
}

EXPORT("megaflow_response") uint32_t export_response(uint32_t n) {
	if (megaflow_plugin_hooks.response == NULL) {
		return not_implemented("response");
	}
	megaflow_bytes p;
	if (!input_bytes(n, &p)) {
		return truncated();
	}
	return finish(megaflow_plugin_hooks.response(p));
}

EXPORT("megaflow_event") uint32_t export_event(uint32_t n) {
	if (megaflow_plugin_hooks.event == NULL) {
		return not_implemented("event");
	}
	megaflow_bytes p;
	if (!input_bytes(n, &p)) {
		return truncated();
	}
	return finish(megaflow_plugin_hooks.event(p));
}

EXPORT("megaflow_aggregate") uint32_t export_aggregate(uint32_t count, uint32_t n) {
	if (megaflow_plugin_hooks.aggregate == NULL) {
		return not_implemented("aggregate");
	}
	megaflow_bytes batch;
	if (!input_bytes(n, &batch)) {
		return truncated();
	}
	if (reserve_array((void **)&inputs, &inputs_cap, count, sizeof *inputs) != 0) {
		return finish(megaflow_fail(500, "the plugin ran out of memory reading the aggregate inputs"));
	}
	for (uint32_t i = 0; i < count; i++) {
		megaflow_input *in = &inputs[i];
		if (!next_frame(&batch, &in->name) || !next_frame(&batch, &in->content_type) ||
		    !next_frame(&batch, &in->data)) {
			return finish(megaflow_fail(500, "the aggregate batch is truncated"));
		}
	}
	return finish(megaflow_plugin_hooks.aggregate(inputs, count));
}

EXPORT("megaflow_route") uint32_t export_route(uint32_t output_len, uint32_t names_len, uint32_t count) {
	if (megaflow_plugin_hooks.route == NULL) {
		return not_implemented("route");
	}
	megaflow_bytes all;
	if (output_len > UINT32_MAX - names_len || !input_bytes(output_len + names_len, &all)) {
		return truncated();
	}
	if (reserve_array((void **)&names, &names_cap, count, sizeof *names) != 0) {
		return finish(megaflow_fail(500, "the plugin ran out of memory reading the successors"));
	}
	megaflow_bytes list = {all.data + output_len, names_len};
	for (uint32_t i = 0; i < count; i++) {
		if (!next_frame(&list, &names[i])) {
			return finish(megaflow_fail(500, "the route successor list is truncated"));
		}
	}
	return finish(megaflow_plugin_hooks.route((megaflow_bytes){all.data, output_len}, names, count));
}
