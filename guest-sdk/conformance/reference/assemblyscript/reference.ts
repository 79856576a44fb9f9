// The conformance reference plugin written with the AssemblyScript guest
// SDK. Its behaviour is specified in guest-sdk/conformance/README.md and is
// identical in every language of guest-sdk/conformance/reference.

import {
  Bytes, Inputs, Request, Status, Successors,
  OK, UNCHANGED, LEVEL_DEBUG, LEVEL_ERROR, LEVEL_INFO, LEVEL_WARN,
  deleteHeader, fail, log, logBytes, onAggregate, onEvent, onInit, onRequest,
  onResponse, onRoute, respond, select, setHeader, setHeaderBytes, bytesOf, decimal, writeBytes, writeNumber,
  writeRaw, writeString, writeUpper,
} from "../../../assemblyscript/assembly/index";
export * from "../../../assemblyscript/assembly/abi";

// The prefix from the configuration, copied out of the input buffer.
let prefixPtr: usize = 0;
let prefixLen: i32 = 0;

const bodyLengthHeader = bytesOf("x-body-length");

// Views reused by the route hook.
const name = new Bytes();
const listed = new Bytes();

function init(config: Bytes): Status {
  log(LEVEL_INFO, "conformance: init with " + config.length.toString() + " config bytes");
  if (config.length == 0) return OK;
  if (config.at(0) != 0x7b) return fail(400, "config is not a JSON object"); // '{'
  const key = "\"prefix\":\"";
  let start = -1;
  for (let i = 0; i + key.length <= config.length && start < 0; i++) {
    let match = true;
    for (let j = 0; j < key.length && match; j++) {
      match = <u32>config.at(i + j) == <u32>key.charCodeAt(j);
    }
    if (match) start = i + key.length;
  }
  if (start < 0) return OK;
  const end = config.indexOf(0x22, start); // '"'
  if (end < 0) return fail(400, "config prefix is not terminated");
  prefixLen = end - start;
  prefixPtr = heap.alloc(<usize>max(prefixLen, 1));
  memory.copy(prefixPtr, config.ptr + <usize>start, <usize>prefixLen);
  return OK;
}

function request(req: Request): Status {
  const body = req.body;
  if (body.length == 0) return fail(400, "empty body");
  if (body.startsWith("error:")) {
    const status = fail(422, "");
    writeBytes(body, 6);
    return status;
  }
  if (body.startsWith("short:")) {
    setHeader("x-short", "yes");
    return respond(203, body, 6);
  }
  if (body.startsWith("log:")) {
    logBytes(LEVEL_WARN, body, 4);
    return UNCHANGED;
  }

  writeRaw(prefixPtr, prefixLen);
  writeBytes(body);
  const headers = req.headers();
  while (headers.next()) {
    if (headers.name.startsWith("x-drop-")) {
      deleteHeader(headers.name);
      continue;
    }
    writeString("\n");
    writeBytes(headers.name);
    writeString(": ");
    writeBytes(headers.value);
  }
  setHeaderBytes(bodyLengthHeader, decimal(<u64>body.length));
  return OK;
}

function response(output: Bytes): Status {
  if (output.length == 0) return UNCHANGED;
  if (output.startsWith("error:")) {
    log(LEVEL_ERROR, "conformance: response error");
    const status = fail(502, "");
    writeBytes(output, 6);
    return status;
  }
  writeRaw(prefixPtr, prefixLen);
  writeUpper(output);
  return OK;
}

function event(ev: Bytes): Status {
  if (ev.length == 0) return OK;
  if (ev.at(0) == 0x3a) { // ':'
    log(LEVEL_DEBUG, "conformance: dropped comment");
    return OK;
  }
  if (ev.startsWith("data: [DONE]")) return UNCHANGED;
  writeUpper(ev);
  return OK;
}

function aggregate(inputs: Inputs): Status {
  if (inputs.length == 0) return fail(422, "no inputs");
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs.at(i);
    if (input.name.equalsString("error")) {
      const status = fail(500, "input error: ");
      writeBytes(input.data);
      return status;
    }
  }
  writeNumber(<u64>inputs.length);
  writeString("\n");
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs.at(i);
    writeBytes(input.name);
    writeString("\t");
    writeBytes(input.contentType);
    writeString("\t");
    writeNumber(<u64>input.data.length);
    writeString("\t");
    writeBytes(input.data);
    writeString("\n");
  }
  return OK;
}

// Reports whether successor is one of the comma-separated names in list.
function isListed(list: Bytes, successor: Bytes): bool {
  let start = 0;
  while (true) {
    let end = list.indexOf(0x2c, start); // ','
    if (end < 0) end = list.length;
    listed.setRange(list, start, end);
    if (listed.equals(successor)) return true;
    if (end == list.length) return false;
    start = end + 1;
  }
  return false;
}

function route(output: Bytes, successors: Successors): Status {
  if (output.length == 0) return UNCHANGED;
  if (output.equalsString("none")) return OK;
  if (output.startsWith("error:")) {
    const status = fail(409, "");
    writeBytes(output, 6);
    return status;
  }
  let start = 0;
  while (true) {
    let end = output.indexOf(0x2c, start); // ','
    if (end < 0) end = output.length;
    name.setRange(output, start, end);
    let found = false;
    for (let i = 0; i < successors.length && !found; i++) {
      found = successors.at(i).equals(name);
    }
    if (!found) {
      const status = fail(404, "no successor named ");
      writeBytes(name);
      return status;
    }
    if (end == output.length) break;
    start = end + 1;
  }
  for (let i = 0; i < successors.length; i++) {
    if (isListed(output, successors.at(i))) select(successors.at(i));
  }
  return OK;
}

onInit(init);
onRequest(request);
onResponse(response);
onEvent(event);
onAggregate(aggregate);
onRoute(route);
