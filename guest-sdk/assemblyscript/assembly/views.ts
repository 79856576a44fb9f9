// Views of the input buffer. The SDK reuses every view across calls, so a
// hook must not keep one after it returns.

// A byte range in linear memory, not necessarily UTF-8.
export class Bytes {
  constructor(public ptr: usize = 0, public length: i32 = 0) {}

  // Points the view at bytes start to end of other, so a hook can walk
  // parts of its input without allocating.
  setRange(other: Bytes, start: i32, end: i32): void {
    this.ptr = other.ptr + <usize>start;
    this.length = end - start;
  }

  @inline at(i: i32): u8 {
    return load<u8>(this.ptr + <usize>i);
  }

  // Returns the index of the first byte c at or after from, or -1.
  indexOf(c: u8, from: i32 = 0): i32 {
    for (let i = from; i < this.length; i++) {
      if (this.at(i) == c) return i;
    }
    return -1;
  }

  // Reports whether the bytes start with the ASCII string prefix.
  startsWith(prefix: string): bool {
    const n = prefix.length;
    if (n > this.length) return false;
    for (let i = 0; i < n; i++) {
      if (<u32>this.at(i) != <u32>prefix.charCodeAt(i)) return false;
    }
    return true;
  }

  // Reports whether the bytes are the ASCII string s.
  equalsString(s: string): bool {
    return s.length == this.length && this.startsWith(s);
  }

  equals(other: Bytes): bool {
    return this.length == other.length && memory.compare(this.ptr, other.ptr, <usize>this.length) == 0;
  }

  // Returns the bytes as a new string, decoded as UTF-8. It allocates.
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.length);
  }
}

// Splits the frame at offset of list into frame. Returns the offset after
// it, or -1 when the frame is missing or truncated.
export function nextFrame(list: Bytes, offset: i32, frame: Bytes): i32 {
  if (list.length - offset < 4) return -1;
  const n = load<u32>(list.ptr + <usize>offset);
  if (<u64>n > <u64>(list.length - offset - 4)) return -1;
  frame.ptr = list.ptr + <usize>offset + 4;
  frame.length = <i32>n;
  return offset + 4 + <i32>n;
}

// A cursor over the headers of a request.
export class Headers {
  // The current header's name and value, set by next.
  name: Bytes = new Bytes();
  value: Bytes = new Bytes();
  block: Bytes = new Bytes();
  offset: i32 = 0;

  // Moves to the next header. Returns false at the end of the block or at
  // a truncated header.
  next(): bool {
    if (this.offset < 0) return false;
    let at = nextFrame(this.block, this.offset, this.name);
    if (at >= 0) at = nextFrame(this.block, at, this.value);
    this.offset = at;
    return at >= 0;
  }
}

// The input of a request hook.
export class Request {
  // The node's input.
  body: Bytes = new Bytes();
  headerBlock: Bytes = new Bytes();
  cursor: Headers = new Headers();

  // Returns a cursor at the start of the headers. Call next on it.
  headers(): Headers {
    const c = this.cursor;
    c.block = this.headerBlock;
    c.offset = 0;
    return c;
  }
}

// One named input of an aggregate hook.
export class Input {
  name: Bytes = new Bytes();
  // The media type, empty when unknown.
  contentType: Bytes = new Bytes();
  data: Bytes = new Bytes();
}

// The inputs of an aggregate hook.
export class Inputs {
  length: i32 = 0;
  pool: Input[] = [];

  at(i: i32): Input {
    return this.pool[i];
  }

  // Parses count inputs from batch; returns false when it is truncated.
  parse(batch: Bytes, count: i32): bool {
    while (this.pool.length < count) this.pool.push(new Input());
    let at = 0;
    for (let i = 0; i < count; i++) {
      const input = this.pool[i];
      at = nextFrame(batch, at, input.name);
      if (at >= 0) at = nextFrame(batch, at, input.contentType);
      if (at >= 0) at = nextFrame(batch, at, input.data);
      if (at < 0) return false;
    }
    this.length = count;
    return true;
  }
}

// The successor names of a route hook.
export class Successors {
  length: i32 = 0;
  pool: Bytes[] = [];

  at(i: i32): Bytes {
    return this.pool[i];
  }

  // Parses count name frames from list; returns false when it is truncated.
  parse(list: Bytes, count: i32): bool {
    while (this.pool.length < count) this.pool.push(new Bytes());
    let at = 0;
    for (let i = 0; i < count; i++) {
      at = nextFrame(list, at, this.pool[i]);
      if (at < 0) return false;
    }
    this.length = count;
    return true;
  }
}
