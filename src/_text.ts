/**
 * Text from tasks (arguments, error messages, ids, names) printed where a person reads it: a text
 * log line, a CLI table. A newline in it would forge a log line, and ESC or C1 sequences (colours,
 * OSC 8 links, OSC 52 clipboard writes, title changes) would reach the terminal. So every control
 * character becomes a visible escape: \n, \r, \t, \xNN for the other C0, DEL and C1 characters,
 * \uNNNN for the Unicode line separators and the bidirectional overrides that reorder what is shown.
 */
// C0, DEL, C1; U+2028/U+2029 (line and paragraph separators); bidi marks, embeddings, overrides
// and isolates (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069).
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeControl(s: string): string {
  CONTROL.lastIndex = 0;
  if (!CONTROL.test(s)) return s;
  return s.replace(CONTROL, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

// What JSON.stringify leaves as it is of the above (it escapes C0 itself: \n, \u001b).
const JSON_LEFT = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text (from JSON.stringify) with DEL, C1 controls, the line separators and the bidi controls
 * \u-escaped too: the same JSON value, but inert on a terminal. They can only occur inside strings,
 * where \uNNNN means the same character.
 */
export function inertJson(json: string): string {
  return json.replace(JSON_LEFT, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
