// A join's lookup table (another table's match column → taken column), built
// once per run and shared with every worker thread without copying: keys and
// values live in SharedArrayBuffers, sorted by their UTF-8 bytes, and a lookup
// is a binary search over bytes. A Map of 1M uuid → job_id strings costs
// ~130 MB per thread; this costs ~60 MB once, and is built without holding the
// rows as JS strings (the joined table usually arrives sorted: its primary key
// is the match column and extract orders by it, COLLATE "C").

/** What crosses to a worker: SharedArrayBuffers are shared, not cloned. */
export interface JoinIndexData {
  count: number;
  keyBytes: SharedArrayBuffer;
  /** count + 1 offsets into keyBytes. */
  keyOffsets: SharedArrayBuffer;
  valueBytes: SharedArrayBuffer;
  /** count + 1 offsets into valueBytes. */
  valueOffsets: SharedArrayBuffer;
  /** One byte per entry: 1 when the taken value is NULL. */
  valueNull: SharedArrayBuffer;
}

export class JoinIndex {
  private readonly keys: Buffer;
  private readonly keyAt: Uint32Array;
  private readonly values: Buffer;
  private readonly valueAt: Uint32Array;
  private readonly valueNull: Uint8Array;

  constructor(readonly data: JoinIndexData) {
    this.keys = Buffer.from(data.keyBytes);
    this.keyAt = new Uint32Array(data.keyOffsets);
    this.values = Buffer.from(data.valueBytes);
    this.valueAt = new Uint32Array(data.valueOffsets);
    this.valueNull = new Uint8Array(data.valueNull);
  }

  private find(key: string): number {
    const probe = Buffer.from(key, 'utf8');
    let lo = 0;
    let hi = this.data.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const order = this.keys.compare(probe, 0, probe.length, this.keyAt[mid], this.keyAt[mid + 1]);
      if (order === 0) return mid;
      if (order < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  /** The taken value; null when that row's value is NULL; undefined when no row matches. */
  get(key: string): string | null | undefined {
    const i = this.find(key);
    if (i < 0) return undefined;
    if (this.valueNull[i]) return null;
    return this.values.toString('utf8', this.valueAt[i], this.valueAt[i + 1]);
  }
}

/** A byte buffer that grows by doubling. */
class Bytes {
  buffer = Buffer.allocUnsafe(1 << 16);
  length = 0;
  append(text: string): void {
    const need = Buffer.byteLength(text, 'utf8');
    while (this.length + need > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(this.buffer.length * 2);
      this.buffer.copy(bigger, 0, 0, this.length);
      this.buffer = bigger;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }
}

/** Collects (key, value) rows, then sorts them once into a shared JoinIndex. */
export class JoinIndexBuilder {
  private readonly keys = new Bytes();
  private readonly values = new Bytes();
  private keyAt: number[] = [0];
  private valueAt: number[] = [0];
  private nulls: number[] = [];

  /** NULL keys match nothing and are left out. */
  add(key: string | null, value: string | null): void {
    if (key === null) return;
    this.keys.append(key);
    this.keyAt.push(this.keys.length);
    if (value !== null) this.values.append(value);
    this.valueAt.push(this.values.length);
    this.nulls.push(value === null ? 1 : 0);
  }

  /** A key seen twice is an error: a join must find one row. */
  build(describe: string): JoinIndex {
    const count = this.nulls.length;
    const keys = this.keys.buffer;
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    const compare = (a: number, b: number) => keys.compare(keys, this.keyAt[b]!, this.keyAt[b + 1]!, this.keyAt[a]!, this.keyAt[a + 1]!);
    let sorted = true;
    for (let i = 1; i < count && sorted; i++) sorted = compare(i - 1, i) < 0;
    if (!sorted) order.sort(compare);
    for (let i = 1; i < count; i++) {
      if (compare(order[i - 1]!, order[i]!) === 0) throw new Error(`${describe}: the match column is not unique, so a join could find two rows`);
    }
    const keyBytes = new SharedArrayBuffer(Math.max(1, this.keys.length));
    const valueBytes = new SharedArrayBuffer(Math.max(1, this.values.length));
    const keyOffsets = new Uint32Array(new SharedArrayBuffer(4 * (count + 1)));
    const valueOffsets = new Uint32Array(new SharedArrayBuffer(4 * (count + 1)));
    const valueNull = new Uint8Array(new SharedArrayBuffer(Math.max(1, count)));
    const keyView = Buffer.from(keyBytes);
    const valueView = Buffer.from(valueBytes);
    let keyEnd = 0;
    let valueEnd = 0;
    for (let i = 0; i < count; i++) {
      const from = order[i]!;
      keyOffsets[i] = keyEnd;
      keyEnd += keys.copy(keyView, keyEnd, this.keyAt[from]!, this.keyAt[from + 1]!);
      valueOffsets[i] = valueEnd;
      valueEnd += this.values.buffer.copy(valueView, valueEnd, this.valueAt[from]!, this.valueAt[from + 1]!);
      valueNull[i] = this.nulls[from]!;
    }
    keyOffsets[count] = keyEnd;
    valueOffsets[count] = valueEnd;
    return new JoinIndex({
      count,
      keyBytes, keyOffsets: keyOffsets.buffer as SharedArrayBuffer,
      valueBytes, valueOffsets: valueOffsets.buffer as SharedArrayBuffer,
      valueNull: valueNull.buffer as SharedArrayBuffer,
    });
  }
}
