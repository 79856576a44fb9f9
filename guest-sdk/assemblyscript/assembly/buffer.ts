// Growable byte buffers in raw heap memory, so that writing output
// allocates nothing once a buffer has reached its working size.

export class ByteBuffer {
  ptr: usize = 0;
  length: i32 = 0;
  capacity: i32 = 0;

  reset(): void {
    this.length = 0;
  }

  // Makes room for n more bytes and returns their address. The bytes count
  // as written.
  extend(n: i32): usize {
    const need = this.length + n;
    if (need > this.capacity) {
      let cap = this.capacity > 0 ? this.capacity : 256;
      while (cap < need) cap <<= 1;
      this.ptr = this.ptr == 0 ? heap.alloc(<usize>cap) : heap.realloc(this.ptr, <usize>cap);
      this.capacity = cap;
    }
    const at = this.ptr + <usize>this.length;
    this.length = need;
    return at;
  }

  append(src: usize, n: i32): void {
    if (n <= 0) return;
    memory.copy(this.extend(n), src, <usize>n);
  }

  appendByte(c: u8): void {
    store<u8>(this.extend(1), c);
  }

  appendFrame(src: usize, n: i32): void {
    store<u32>(this.extend(4), <u32>n);
    this.append(src, n);
  }

  appendDecimal(n: u64): void {
    let digits = 1;
    for (let rest = n / 10; rest > 0; rest /= 10) digits++;
    const at = this.extend(digits);
    for (let i = digits - 1; i >= 0; i--) {
      store<u8>(at + <usize>i, <u8>(0x30 + n % 10));
      n /= 10;
    }
  }
}

// The current hook's output.
export const output = new ByteBuffer();

// Room to encode strings for header and log calls.
export const scratch = new ByteBuffer();

// Appends s to b encoded as UTF-8. An unpaired surrogate becomes U+FFFD.
export function writeUTF8(b: ByteBuffer, s: string): void {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = <u32>s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? <u32>s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x80) {
      b.appendByte(<u8>c);
    } else if (c < 0x800) {
      b.appendByte(<u8>(0xc0 | (c >> 6)));
      b.appendByte(<u8>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      b.appendByte(<u8>(0xe0 | (c >> 12)));
      b.appendByte(<u8>(0x80 | ((c >> 6) & 0x3f)));
      b.appendByte(<u8>(0x80 | (c & 0x3f)));
    } else {
      b.appendByte(<u8>(0xf0 | (c >> 18)));
      b.appendByte(<u8>(0x80 | ((c >> 12) & 0x3f)));
      b.appendByte(<u8>(0x80 | ((c >> 6) & 0x3f)));
      b.appendByte(<u8>(0x80 | (c & 0x3f)));
    }
  }
}
