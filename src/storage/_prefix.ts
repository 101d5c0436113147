/**
 * Prefix scans for the key-value store. Backends order keys by their UTF-8 bytes (SQLite BINARY,
 * PostgreSQL COLLATE "C", Redis BYLEX), which is code point order. An upper bound such as
 * `prefix + "\uffff"` sorts below every key whose next character is past U+FFFF (an emoji, as
 * UTF-8 four bytes starting 0xF0), and `prefix + "\u{10FFFF}"` below a key continuing with
 * U+10FFFF and more: those keys were missing from listings and counts.
 */

/**
 * The least string above every string that starts with `prefix`: `prefix` with its last code
 * point raised by one (carrying past U+10FFFF, skipping the surrogate range). Every key k with
 * prefix <= k < prefixEnd(prefix) starts with `prefix`, and only those. Null when there is no
 * such string ("" or only U+10FFFF characters): then there is no upper bound.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return null;
}

/** Code point order (what UTF-8 byte order gives), not the UTF-16 order of `<` on strings. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only where one side is a surrogate (U+10000 and up) and the other U+E000-U+FFFF does UTF-16
    // order differ from code point order: surrogates then sort last.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy && (sx ? y >= 0xe000 : x >= 0xe000)) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
