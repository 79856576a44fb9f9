// The AssemblyScript guest SDK for megaflow plugins: WebAssembly modules
// that shape requests, responses and server-sent events, combine the
// outputs of several nodes, or choose which nodes run next.
//
// A plugin registers its hooks in top-level statements of its entry file
// and re-exports the ABI functions from "./abi":
//
//     import { Bytes, OK, Status, onResponse, writeBytes } from "@megaflow/guest-sdk";
//     export * from "@megaflow/guest-sdk/assembly/abi";
//
//     onResponse((output: Bytes): Status => {
//       writeBytes(output);
//       return OK;
//     });
//
// The SDK implements ABI version 1 (docs/ABI.md in the megaflow
// repository). It is written for the stub runtime (`asc --runtime stub`),
// which never frees memory, so it allocates nothing per call once its
// buffers have grown. Hooks receive views into the input buffer (Bytes,
// Headers, Inputs, Successors) that the SDK reuses, valid only until the
// hook returns. Output is collected and handed to the host in one call
// when the hook returns.

import { ByteBuffer, output as outputBuffer, scratch, writeUTF8 } from "./buffer";
import { hostDeleteHeader, hostLog, hostSetHeader } from "./host";

export { Bytes, Headers, Input, Inputs, Request, Successors } from "./views";
import { Bytes, Inputs, Request, Successors } from "./views";

// A hook's result: OK, UNCHANGED, a short-circuit response status from
// respond, or a failure status from fail.
export type Status = i32;

// Success: the hook's output replaces its input.
export const OK: Status = 0;
// Pass-through: the input stays as it was, and anything written is
// discarded. For a route hook it selects every successor.
export const UNCHANGED: Status = 1;

// Log levels, numbered as in Go's log/slog.
export const LEVEL_DEBUG: i32 = -4;
export const LEVEL_INFO: i32 = 0;
export const LEVEL_WARN: i32 = 4;
export const LEVEL_ERROR: i32 = 8;

// The registered hooks. A null member is a hook the plugin does not
// implement.
export class Handlers {
  init: ((config: Bytes) => Status) | null = null;
  request: ((request: Request) => Status) | null = null;
  response: ((output: Bytes) => Status) | null = null;
  event: ((event: Bytes) => Status) | null = null;
  aggregate: ((inputs: Inputs) => Status) | null = null;
  route: ((output: Bytes, successors: Successors) => Status) | null = null;
}

export const handlers = new Handlers();

// Registers the function that receives the plugin's configuration (its
// config table as JSON, empty when there is none). It runs once per
// instance before any hook. A failure status fails the plugin's loading
// with the output as the message.
export function onInit(f: (config: Bytes) => Status): void { handlers.init = f; }

// Registers the request hook, run before a node's service is called.
export function onRequest(f: (request: Request) => Status): void { handlers.request = f; }

// Registers the response hook, run on a node's output.
export function onResponse(f: (output: Bytes) => Status): void { handlers.response = f; }

// Registers the hook run on each server-sent event of a streamed output.
// Returning OK with nothing written drops the event.
export function onEvent(f: (event: Bytes) => Status): void { handlers.event = f; }

// Registers the hook that combines the outputs of several predecessors.
export function onAggregate(f: (inputs: Inputs) => Status): void { handlers.aggregate = f; }

// Registers the hook that chooses which successors run: it calls select
// for each, then returns OK. Returning UNCHANGED runs all.
export function onRoute(f: (output: Bytes, successors: Successors) => Status): void { handlers.route = f; }

// Appends bytes start to end of b to the hook's output.
export function writeBytes(b: Bytes, start: i32 = 0, end: i32 = i32.MAX_VALUE): void {
  const from = clamp(start, b.length);
  const to = clamp(end, b.length);
  if (to > from) outputBuffer.append(b.ptr + <usize>from, to - from);
}

// Appends len bytes at ptr to the hook's output.
export function writeRaw(ptr: usize, len: i32): void {
  outputBuffer.append(ptr, len);
}

// Appends s to the hook's output, encoded as UTF-8.
export function writeString(s: string): void {
  writeUTF8(outputBuffer, s);
}

// Appends the decimal digits of n to the hook's output.
export function writeNumber(n: u64): void {
  outputBuffer.appendDecimal(n);
}

// Appends b with ASCII letters upper-cased and every other byte as it is.
export function writeUpper(b: Bytes): void {
  const len = b.length;
  const dst = outputBuffer.extend(len);
  const src = b.ptr;
  for (let i = 0; i < len; i++) {
    let c = load<u8>(src + <usize>i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    store<u8>(dst + <usize>i, c);
  }
}

// Marks a successor to run, from a route hook.
export function select(name: Bytes): void {
  outputBuffer.appendFrame(name.ptr, name.length);
}

// Discards the output and returns a failure with an HTTP status from 400
// to 599 (another value becomes 500) and message, which the host logs and
// reports to the client. Append more of the message with the write
// functions after calling it.
export function fail(status: i32, message: string): Status {
  outputBuffer.reset();
  writeString(message);
  return status >= 400 && status <= 599 ? status : 500;
}

// Responds to the client with status (200 to 399) and body from start on,
// in place of calling the node's service, from a request hook only.
// Another status fails with 500.
export function respond(status: i32, body: Bytes, start: i32 = 0): Status {
  if (status < 200 || status > 399) {
    return fail(500, "respond: status " + status.toString() + " is outside 200-399");
  }
  outputBuffer.reset();
  writeBytes(body, start);
  return status;
}

// Sets an outgoing header, replacing any of the same name, from a request
// hook only.
export function setHeader(name: string, value: string): void {
  scratch.reset();
  writeUTF8(scratch, name);
  const nameLen = scratch.length;
  writeUTF8(scratch, value);
  hostSetHeader(scratch.ptr, nameLen, scratch.ptr + <usize>nameLen, scratch.length - nameLen);
}

// setHeader with a name and value of arbitrary bytes.
export function setHeaderBytes(name: Bytes, value: Bytes): void {
  hostSetHeader(name.ptr, name.length, value.ptr, value.length);
}

// Returns s encoded as UTF-8 in new memory. It allocates, so call it once,
// for example for a constant header name at the top level of a plugin.
export function bytesOf(s: string): Bytes {
  const encoded = String.UTF8.encode(s);
  return new Bytes(changetype<usize>(encoded), encoded.byteLength);
}

// Returns the decimal digits of n as a view that the next call reuses, so
// that a hook can use a number as a header value without allocating.
export function decimal(n: u64): Bytes {
  digits.reset();
  digits.appendDecimal(n);
  digitsView.ptr = digits.ptr;
  digitsView.length = digits.length;
  return digitsView;
}

const digits = new ByteBuffer();
const digitsView = new Bytes();

// Removes an outgoing header, from a request hook only.
export function deleteHeader(name: Bytes): void {
  hostDeleteHeader(name.ptr, name.length);
}

// Sends a message to the host's log, tagged with the plugin's name. The
// host rate-limits plugin logs.
export function log(level: i32, message: string): void {
  scratch.reset();
  writeUTF8(scratch, message);
  hostLog(level, scratch.ptr, scratch.length);
}

// Logs bytes start to end of message, which need not be UTF-8.
export function logBytes(level: i32, message: Bytes, start: i32 = 0): void {
  const from = clamp(start, message.length);
  hostLog(level, message.ptr + <usize>from, message.length - from);
}

function clamp(i: i32, len: i32): i32 {
  if (i < 0) return 0;
  if (i > len) return len;
  return i;
}
