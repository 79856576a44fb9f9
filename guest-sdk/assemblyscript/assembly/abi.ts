// The module's ABI exports (docs/ABI.md). A plugin's entry file
// re-exports them: export * from "@megaflow/guest-sdk/assembly/abi".

import { handlers, fail, Status, UNCHANGED } from "./index";
import { output } from "./buffer";
import { hostOutput } from "./host";
import { Bytes, Inputs, Request, Successors } from "./views";

const ABI_VERSION: i32 = 1;

// Hook bits of megaflow_hooks.
const HOOK_REQUEST: u32 = 1;
const HOOK_RESPONSE: u32 = 2;
const HOOK_EVENT: u32 = 4;
const HOOK_AGGREGATE: u32 = 8;
const HOOK_ROUTE: u32 = 16;

// The input buffer the host writes into. Under the stub runtime neither it
// nor the output buffer can be freed, so they keep their largest size. The
// host replaces an instance whose memory has grown past its threshold.
let inputPtr: usize = 0;
let inputCap: u32 = 0;

const view = new Bytes();
const view2 = new Bytes();
const request = new Request();
const inputs = new Inputs();
const successors = new Successors();

export function megaflow_abi_version(): i32 {
  return ABI_VERSION;
}

// NOTE: under the stub runtime a failed memory.grow traps instead of
// returning 0, so a buffer past max_memory fails the call as out of memory.
export function megaflow_buffer(size: u32): usize {
  if (size > inputCap || inputPtr == 0) {
    const cap = size > 0 ? size : 1;
    inputPtr = inputPtr == 0 ? heap.alloc(<usize>cap) : heap.realloc(inputPtr, <usize>cap);
    inputCap = cap;
  }
  return inputPtr;
}

export function megaflow_hooks(): u32 {
  let mask: u32 = 0;
  if (handlers.request) mask |= HOOK_REQUEST;
  if (handlers.response) mask |= HOOK_RESPONSE;
  if (handlers.event) mask |= HOOK_EVENT;
  if (handlers.aggregate) mask |= HOOK_AGGREGATE;
  if (handlers.route) mask |= HOOK_ROUTE;
  return mask;
}

// Hands the output to the host and returns the status to it.
function finish(status: Status): u32 {
  if (status != UNCHANGED && output.length > 0) {
    hostOutput(output.ptr, output.length);
  }
  output.reset();
  return <u32>status;
}

function notImplemented(hook: string): u32 {
  return finish(fail(501, "the plugin registered no " + hook + " hook"));
}

// Points into at the first n bytes of the input buffer. Returns false when
// the host announced more than the buffer holds.
function input(n: u32, into: Bytes): bool {
  if (n > inputCap) return false;
  into.ptr = inputPtr;
  into.length = <i32>n;
  return true;
}

function truncated(): u32 {
  return finish(fail(500, "the host announced more input than the input buffer holds"));
}

export function megaflow_init(n: u32): u32 {
  if (!input(n, view)) return truncated();
  const init = handlers.init;
  if (!init) return finish(0);
  return finish(init(view));
}

export function megaflow_request(bodyLen: u32, headersLen: u32): u32 {
  const hook = handlers.request;
  if (!hook) return notImplemented("request");
  if (bodyLen > 0xffffffff - headersLen || !input(bodyLen + headersLen, view)) return truncated();
  request.body.setRange(view, 0, <i32>bodyLen);
  request.headerBlock.setRange(view, <i32>bodyLen, <i32>(bodyLen + headersLen));
  return finish(hook(request));
}

export function megaflow_response(n: u32): u32 {
  const hook = handlers.response;
  if (!hook) return notImplemented("response");
  if (!input(n, view)) return truncated();
  return finish(hook(view));
}

export function megaflow_event(n: u32): u32 {
  const hook = handlers.event;
  if (!hook) return notImplemented("event");
  if (!input(n, view)) return truncated();
  return finish(hook(view));
}

export function megaflow_aggregate(count: u32, n: u32): u32 {
  const hook = handlers.aggregate;
  if (!hook) return notImplemented("aggregate");
  if (!input(n, view)) return truncated();
  if (!inputs.parse(view, <i32>count)) return finish(fail(500, "the aggregate batch is truncated"));
  return finish(hook(inputs));
}

export function megaflow_route(outputLen: u32, namesLen: u32, count: u32): u32 {
  const hook = handlers.route;
  if (!hook) return notImplemented("route");
  if (outputLen > 0xffffffff - namesLen || !input(outputLen + namesLen, view)) return truncated();
  view2.setRange(view, <i32>outputLen, <i32>(outputLen + namesLen));
  if (!successors.parse(view2, <i32>count)) return finish(fail(500, "the route successor list is truncated"));
  view.length = <i32>outputLen;
  return finish(hook(view, successors));
}
