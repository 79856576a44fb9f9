;; A module that follows the ABI except that it lacks the
;; megaflow_abi_version export; the host must reject it at load.
(module
  (memory (export "memory") 1)
  (func (export "megaflow_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "megaflow_response") (param i32) (result i32) (i32.const 1)))
