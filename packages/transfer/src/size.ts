/** Byte sizes as people write them on a command line: `4MiB`, `512KiB`, `1G`, `65536`. */

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a size: a non-negative number and an optional unit (B, K/KiB = 1024, KB = 1000, M/MiB,
 * MB, G/GiB, GB; case-insensitive). The result is a whole number of bytes.
 * @throws RangeError for anything else.
 */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] as string).toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new RangeError(`expected a size such as 4MiB, 512KiB or 65536, got "${text}"`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`size too large: "${text}"`);
  return bytes;
}

/** 4194304 -> "4 MiB", for people. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
