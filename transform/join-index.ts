// A join's lookup table (another table's match column → taken column), built
// once per run and shared with every worker thread without copying: keys and
// values live in SharedArrayBuffers, sorted by key, and a lookup is a binary
// search. A Map of 1M uuid → job_id strings costs ~130 MB per thread; this
// costs ~60 MB once.

/** What crosses to a worker: SharedArrayBuffers are shared, not cloned. */
export interface JoinIndexData {
  count: number;
  keyBytes: SharedArrayBuffer;
  /** count + 1 offsets into keyBytes. */
  keyOffsets: SharedArrayBuffer;
  valueBytes: SharedArrayBuffer;
  /** count + 1 offsets into valueBytes; a NULL value has NULL_FLAG set on its start. */
  valueOffsets: SharedArrayBuffer;
}

const NULL_FLAG = 0x80000000;

export class JoinIndex {
  private readonly keys: Buffer;
  private readonly keyAt: Uint32Array;
  private readonly values: Buffer;
  private readonly valueAt: Uint32Array;

  constructor(readonly data: JoinIndexData) {
    this.keys = Buffer.from(data.keyBytes);
    this.keyAt = new Uint32Array(data.keyOffsets);
    this.values = Buffer.from(data.valueBytes);
    this.valueAt = new Uint32Array(data.valueOffsets);
  }

  /**
   * Builds the index from (key, value) pairs; NULL keys match nothing and are
   * left out. A key seen twice is an error: a join must find one row.
   */
  static build(pairs: [string, string | null][], describe: string): JoinIndex {
    const rows = pairs.filter(([key]) => key !== null).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (let i = 1; i < rows.length; i++) {
      if (rows[i]![0] === rows[i - 1]![0]) throw new Error(`${describe}: the match column is not unique (${rows.length} rows), so a join could find two rows`);
    }
    const keyText = rows.map(([key]) => Buffer.from(key, 'utf8'));
    const valueText = rows.map(([, value]) => Buffer.from(value ?? '', 'utf8'));
    const share = (buffers: Buffer[]) => {
      const bytes = new SharedArrayBuffer(Math.max(1, buffers.reduce((n, b) => n + b.length, 0)));
      const view = Buffer.from(bytes);
      const offsets = new Uint32Array(new SharedArrayBuffer(4 * (buffers.length + 1)));
      let at = 0;
      buffers.forEach((b, i) => { offsets[i] = at; b.copy(view, at); at += b.length; });
      offsets[buffers.length] = at;
      return { bytes, offsets };
    };
    const keys = share(keyText);
    const values = share(valueText);
    rows.forEach(([, value], i) => { if (value === null) values.offsets[i] = (values.offsets[i]! | NULL_FLAG) >>> 0; });
    return new JoinIndex({
      count: rows.length,
      keyBytes: keys.bytes, keyOffsets: keys.offsets.buffer as SharedArrayBuffer,
      valueBytes: values.bytes, valueOffsets: values.offsets.buffer as SharedArrayBuffer,
    });
  }

  private find(key: string): number {
    let lo = 0;
    let hi = this.data.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const candidate = this.keys.toString('utf8', this.keyAt[mid], this.keyAt[mid + 1]);
      if (candidate === key) return mid;
      if (candidate < key) lo = mid + 1;
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
    const start = this.valueAt[i]!;
    if (start & NULL_FLAG) return null;
    return this.values.toString('utf8', start, this.valueAt[i + 1]! & ~NULL_FLAG);
  }
}
