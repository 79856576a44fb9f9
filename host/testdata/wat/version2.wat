;; A module that declares ABI version 2; the host, at version 1, must
;; reject it at load and name both versions.
(module
  (memory (export "memory") 1)
  (func (export "megaflow_abi_version") (result i32) (i32.const 2))
  (func (export "megaflow_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "megaflow_response") (param i32) (result i32) (i32.const 1)))
