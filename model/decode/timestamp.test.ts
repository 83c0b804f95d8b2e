import test from 'ava';
import { canonicalTimestamp, decodeTimestamp, decodeTimestamptz, utcSeconds } from './timestamp.ts';

test('timestamptz: microseconds kept, canonical fixed width with Z', (t) => {
  t.deepEqual(decodeTimestamptz('2024-01-02 03:04:05.123456+00'), { S: '2024-01-02T03:04:05.123456Z' });
});

test('timestamptz: a shorter fraction is padded to 6 digits', (t) => {
  t.deepEqual(decodeTimestamptz('2024-01-02 03:04:05.1+00'), { S: '2024-01-02T03:04:05.100000Z' });
  t.deepEqual(decodeTimestamptz('2024-01-02 03:04:05.000001+00'), { S: '2024-01-02T03:04:05.000001Z' });
  t.deepEqual(decodeTimestamptz('2024-01-02 03:04:05.12345+00'), { S: '2024-01-02T03:04:05.123450Z' });
});

test('timestamptz: no fraction gets .000000', (t) => {
  t.deepEqual(decodeTimestamptz('2024-01-02 03:04:05+00'), { S: '2024-01-02T03:04:05.000000Z' });
});

test('timestamptz: years before 1000 keep their 4-digit form', (t) => {
  t.deepEqual(decodeTimestamptz('0044-03-15 12:00:00+00'), { S: '0044-03-15T12:00:00.000000Z' });
});

test('timestamptz: canonical text sorts as time, even a microsecond apart', (t) => {
  const printed = ['2024-01-02 03:04:05.1+00', '2024-01-02 03:04:05+00', '2024-01-02 03:04:05.000001+00', '2024-01-02 03:04:05.09+00'];
  const sorted = printed.map((text) => canonicalTimestamp(text)).sort();
  t.deepEqual(sorted, [
    '2024-01-02T03:04:05.000000Z',
    '2024-01-02T03:04:05.000001Z',
    '2024-01-02T03:04:05.090000Z',
    '2024-01-02T03:04:05.100000Z',
  ]);
});

test('timestamptz: infinity and -infinity stay as printed', (t) => {
  t.deepEqual(decodeTimestamptz('infinity'), { S: 'infinity' });
  t.deepEqual(decodeTimestamptz('-infinity'), { S: '-infinity' });
});

test('timestamptz: BC dates stay as printed', (t) => {
  t.deepEqual(decodeTimestamptz('0044-03-15 00:00:00+00 BC'), { S: '0044-03-15 00:00:00+00 BC' });
  t.deepEqual(decodeTimestamptz('0001-12-31 23:59:59.5+00 BC'), { S: '0001-12-31 23:59:59.5+00 BC' });
});

test('timestamptz: years past 9999 stay as printed', (t) => {
  t.deepEqual(decodeTimestamptz('12024-01-02 03:04:05+00'), { S: '12024-01-02 03:04:05+00' });
});

test('timestamptz: an offset other than +00 throws (the extract pins TimeZone=UTC)', (t) => {
  t.throws(() => decodeTimestamptz('2024-01-02 03:04:05+05:30'), { message: /TimeZone=UTC/ });
  t.throws(() => decodeTimestamptz('2024-01-02 03:04:05-08'), { message: /TimeZone=UTC/ });
});

test('timestamptz: text that is not ISO output throws', (t) => {
  for (const text of ['', '2024-01-02', '2024-01-02T03:04:05+00', '2024/01/02 03:04:05+00', '2024-01-02 03:04:05.+00', '2024-01-02 03:04:05.1234567+00', 'Tue Jan 02 03:04:05 2024 UTC']) {
    t.throws(() => decodeTimestamptz(text), undefined, text);
  }
});

test('timestamp: same canonical form without Z', (t) => {
  t.deepEqual(decodeTimestamp('2024-01-02 03:04:05.5'), { S: '2024-01-02T03:04:05.500000' });
  t.deepEqual(decodeTimestamp('2024-01-02 03:04:05'), { S: '2024-01-02T03:04:05.000000' });
});

test('timestamp: infinity, BC and 5-digit years stay as printed', (t) => {
  t.deepEqual(decodeTimestamp('-infinity'), { S: '-infinity' });
  t.deepEqual(decodeTimestamp('0001-01-01 00:00:00 BC'), { S: '0001-01-01 00:00:00 BC' });
  t.deepEqual(decodeTimestamp('10000-01-01 00:00:00'), { S: '10000-01-01 00:00:00' });
});

test('timestamp: text with a zone throws', (t) => {
  t.throws(() => decodeTimestamp('2024-01-02 03:04:05+00'));
});

test('canonicalTimestamp: takes timestamptz and timestamp text alike', (t) => {
  t.is(canonicalTimestamp('2025-01-15 09:30:00.000001+00'), '2025-01-15T09:30:00.000001Z');
  t.is(canonicalTimestamp('2025-01-15 09:30:00'), '2025-01-15T09:30:00.000000');
  t.is(canonicalTimestamp('infinity'), 'infinity');
  t.throws(() => canonicalTimestamp('2025-01-15 09:30:00+01'), { message: /TimeZone=UTC/ });
  t.throws(() => canonicalTimestamp('2025-01-15'));
});

test('utcSeconds: years 0–99 are those years, not 1900–1999; every year agrees with day arithmetic', (t) => {
  t.is(utcSeconds(1, 1, 1, 0, 0, 0), -62135596800); // 0001-01-01T00:00:00Z, the proleptic Gregorian epoch offset
  t.is(utcSeconds(1970, 1, 1, 0, 0, 1), 1);
  t.is(utcSeconds(50, 3, 1, 12, 30, 15) - utcSeconds(1950, 3, 1, 12, 30, 15), -(1900 * 365 + 1900 / 4 - 19 + 4) * 86400);
  // Days from 1970-01-01 of the civil date (Hinnant's days_from_civil), plus the time of day.
  const civil = (y: number, m: number, d: number) => {
    const yy = m <= 2 ? y - 1 : y;
    const era = Math.floor(yy / 400);
    const yoe = yy - era * 400;
    const doy = Math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1;
    return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  };
  for (let y = 0; y <= 9999; y += 7) {
    for (const [m, d, h, mi, s] of [[1, 1, 0, 0, 0], [2, 28, 23, 59, 59], [12, 31, 6, 7, 8]] as const) {
      t.is(utcSeconds(y, m, d, h, mi, s), civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s, `${y}-${m}-${d}`);
    }
  }
});
