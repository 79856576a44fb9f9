/* Upper-cases the ASCII letters of a node's output, and of each event when
 * the output is streamed. */
#include "megaflow.h"

static megaflow_status upper(megaflow_bytes output) {
	for (size_t i = 0; i < output.len; i++) {
		uint8_t c = output.data[i];
		if (c >= 'a' && c <= 'z') {
			c -= 'a' - 'A';
		}
		megaflow_write(&c, 1);
	}
	return MEGAFLOW_OK;
}

MEGAFLOW_PLUGIN(.response = upper, .event = upper);
