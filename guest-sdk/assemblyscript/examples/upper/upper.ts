// Upper-cases the ASCII letters of a node's output, and of each event when
// the output is streamed.

import { Bytes, OK, Status, onEvent, onResponse, writeUpper } from "../../assembly/index";
export * from "../../assembly/abi";

function upper(output: Bytes): Status {
  writeUpper(output);
  return OK;
}

onResponse(upper);
onEvent(upper);
