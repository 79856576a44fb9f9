/*
 * The conformance reference plugin written with the C guest SDK. Its
 * behaviour is specified in guest-sdk/conformance/README.md and is
 * identical in every language of guest-sdk/conformance/reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "megaflow.h"

static megaflow_bytes prefix;

static int has_prefix(megaflow_bytes p, const char *start) {
	size_t n = strlen(start);
	return p.len >= n && memcmp(p.data, start, n) == 0;
}

/* Returns p without its first n bytes. */
static megaflow_bytes skip(megaflow_bytes p, size_t n) { return (megaflow_bytes){p.data + n, p.len - n}; }

static int equal(megaflow_bytes a, megaflow_bytes b) { return a.len == b.len && memcmp(a.data, b.data, a.len) == 0; }

/* Writes p with ASCII letters upper-cased and every other byte, UTF-8 or
 * not, as it is. */
static void write_upper(megaflow_bytes p) {
	uint8_t chunk[4096];
	for (size_t done = 0; done < p.len;) {
		size_t n = p.len - done < sizeof chunk ? p.len - done : sizeof chunk;
		for (size_t i = 0; i < n; i++) {
			uint8_t c = p.data[done + i];
			chunk[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
		}
		megaflow_write(chunk, n);
		done += n;
	}
}

/* Fails with status and a message of start followed by detail. */
static megaflow_status fail_with(int status, const char *start, megaflow_bytes detail) {
	megaflow_status s = megaflow_fail(status, start);
	megaflow_write(detail.data, detail.len);
	return s;
}

static megaflow_status init(megaflow_bytes config) {
	char message[64];
	snprintf(message, sizeof message, "conformance: init with %zu config bytes", config.len);
	megaflow_log(MEGAFLOW_LEVEL_INFO, message);
	if (config.len == 0) {
		return MEGAFLOW_OK;
	}
	if (config.data[0] != '{') {
		return megaflow_fail(400, "config is not a JSON object");
	}
	static const char key[] = "\"prefix\":\"";
	const uint8_t *start = memmem(config.data, config.len, key, sizeof key - 1);
	if (start == NULL) {
		return MEGAFLOW_OK;
	}
	start += sizeof key - 1;
	size_t rest = config.len - (size_t)(start - config.data);
	const uint8_t *end = memchr(start, '"', rest);
	if (end == NULL) {
		return megaflow_fail(400, "config prefix is not terminated");
	}
	size_t n = (size_t)(end - start);
	uint8_t *copy = malloc(n ? n : 1);
	if (copy == NULL) {
		return megaflow_fail(500, "out of memory");
	}
	memcpy(copy, start, n);
	prefix = (megaflow_bytes){copy, n};
	return MEGAFLOW_OK;
}

static megaflow_status request(const megaflow_request *req) {
	megaflow_bytes body = req->body;
	if (body.len == 0) {
		return megaflow_fail(400, "empty body");
	}
	if (has_prefix(body, "error:")) {
		return megaflow_fail_bytes(422, skip(body, 6));
	}
	if (has_prefix(body, "short:")) {
		megaflow_set_header(MEGAFLOW_LITERAL("x-short"), MEGAFLOW_LITERAL("yes"));
		return megaflow_respond(203, skip(body, 6));
	}
	if (has_prefix(body, "log:")) {
		megaflow_log_bytes(MEGAFLOW_LEVEL_WARN, skip(body, 4));
		return MEGAFLOW_UNCHANGED;
	}

	megaflow_write(prefix.data, prefix.len);
	megaflow_write(body.data, body.len);
	megaflow_bytes headers = req->headers, name, value;
	while (megaflow_next_header(&headers, &name, &value)) {
		if (has_prefix(name, "x-drop-")) {
			megaflow_delete_header(name);
			continue;
		}
		megaflow_write_str("\n");
		megaflow_write(name.data, name.len);
		megaflow_write_str(": ");
		megaflow_write(value.data, value.len);
	}
	char length[24];
	int n = snprintf(length, sizeof length, "%zu", body.len);
	megaflow_set_header(MEGAFLOW_LITERAL("x-body-length"), (megaflow_bytes){(const uint8_t *)length, (size_t)n});
	return MEGAFLOW_OK;
}

static megaflow_status response(megaflow_bytes output) {
	if (output.len == 0) {
		return MEGAFLOW_UNCHANGED;
	}
	if (has_prefix(output, "error:")) {
		megaflow_log(MEGAFLOW_LEVEL_ERROR, "conformance: response error");
		return megaflow_fail_bytes(502, skip(output, 6));
	}
	megaflow_write(prefix.data, prefix.len);
	write_upper(output);
	return MEGAFLOW_OK;
}

static megaflow_status event(megaflow_bytes ev) {
	if (ev.len == 0) {
		return MEGAFLOW_OK;
	}
	if (ev.data[0] == ':') {
		megaflow_log(MEGAFLOW_LEVEL_DEBUG, "conformance: dropped comment");
		return MEGAFLOW_OK;
	}
	if (has_prefix(ev, "data: [DONE]")) {
		return MEGAFLOW_UNCHANGED;
	}
	write_upper(ev);
	return MEGAFLOW_OK;
}

static megaflow_status aggregate(const megaflow_input *inputs, size_t count) {
	if (count == 0) {
		return megaflow_fail(422, "no inputs");
	}
	for (size_t i = 0; i < count; i++) {
		if (equal(inputs[i].name, MEGAFLOW_LITERAL("error"))) {
			return fail_with(500, "input error: ", inputs[i].data);
		}
	}
	megaflow_write_uint(count);
	megaflow_write_str("\n");
	for (size_t i = 0; i < count; i++) {
		const megaflow_input *in = &inputs[i];
		megaflow_write(in->name.data, in->name.len);
		megaflow_write_str("\t");
		megaflow_write(in->content_type.data, in->content_type.len);
		megaflow_write_str("\t");
		megaflow_write_uint(in->data.len);
		megaflow_write_str("\t");
		megaflow_write(in->data.data, in->data.len);
		megaflow_write_str("\n");
	}
	return MEGAFLOW_OK;
}

/* Splits the next comma-separated name off *list into *name; returns 0
 * when the list is used up. */
static int next_name(megaflow_bytes *list, int *done, megaflow_bytes *name) {
	if (*done) {
		return 0;
	}
	const uint8_t *comma = memchr(list->data, ',', list->len);
	if (comma == NULL) {
		*name = *list;
		*done = 1;
		return 1;
	}
	*name = (megaflow_bytes){list->data, (size_t)(comma - list->data)};
	*list = skip(*list, name->len + 1);
	return 1;
}

static int listed(megaflow_bytes output, megaflow_bytes successor) {
	megaflow_bytes list = output, name;
	int done = 0;
	while (next_name(&list, &done, &name)) {
		if (equal(name, successor)) {
			return 1;
		}
	}
	return 0;
}

static megaflow_status route(megaflow_bytes output, const megaflow_bytes *successors, size_t count) {
	if (output.len == 0) {
		return MEGAFLOW_UNCHANGED;
	}
	if (equal(output, MEGAFLOW_LITERAL("none"))) {
		return MEGAFLOW_OK;
	}
	if (has_prefix(output, "error:")) {
		return megaflow_fail_bytes(409, skip(output, 6));
	}
	megaflow_bytes list = output, name;
	int done = 0;
	while (next_name(&list, &done, &name)) {
		int found = 0;
		for (size_t i = 0; i < count && !found; i++) {
			found = equal(name, successors[i]);
		}
		if (!found) {
			return fail_with(404, "no successor named ", name);
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (listed(output, successors[i])) {
			megaflow_select(successors[i]);
		}
	}
	return MEGAFLOW_OK;
}

MEGAFLOW_PLUGIN(.init = init, .request = request, .response = response, .event = event, .aggregate = aggregate,
                .route = route);
