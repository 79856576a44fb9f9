// The functions the megaflow host provides to guests (docs/ABI.md).

@external("megaflow", "output")
export declare function hostOutput(ptr: usize, len: i32): void;

@external("megaflow", "set_header")
export declare function hostSetHeader(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): void;

@external("megaflow", "delete_header")
export declare function hostDeleteHeader(namePtr: usize, nameLen: i32): void;

@external("megaflow", "log")
export declare function hostLog(level: i32, ptr: usize, len: i32): void;
