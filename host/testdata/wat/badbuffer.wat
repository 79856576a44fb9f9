;; A module whose megaflow_buffer returns an address past the end of its
;; memory; the host must fail the call, not write out of bounds.
(module
  (memory (export "memory") 1)
  (func (export "megaflow_abi_version") (result i32) (i32.const 1))
  (func (export "megaflow_buffer") (param i32) (result i32) (i32.const 0x7FFFFF00))
  (func (export "megaflow_response") (param i32) (result i32) (i32.const 1)))
