/**
 * ISO 8327-1 functional units, as a bit set carried in the connect and accept frames.
 *
 * The bit positions are part of the wire protocol. A unit that this implementation does not
 * implement yet is removed from every proposal and every acceptance (negotiated away), so it is
 * never accepted and then ignored. Kernel is always present.
 */
export const Unit = {
  KERNEL: 1 << 0,
  NEGOTIATED_RELEASE: 1 << 1,
  HALF_DUPLEX: 1 << 2,
  DUPLEX: 1 << 3,
  EXPEDITED: 1 << 4,
  TYPED_DATA: 1 << 5,
  CAPABILITY_DATA: 1 << 6,
  MINOR_SYNCHRONIZE: 1 << 7,
  SYMMETRIC_SYNCHRONIZE: 1 << 8,
  DATA_SEPARATION: 1 << 9,
  MAJOR_SYNCHRONIZE: 1 << 10,
  RESYNCHRONIZE: 1 << 11,
  EXCEPTIONS: 1 << 12,
  ACTIVITY_MANAGEMENT: 1 << 13,
} as const;
export type UnitName = keyof typeof Unit;

/** Units this implementation can honour today. Others are negotiated away. */
export const IMPLEMENTED_UNITS =
  Unit.KERNEL |
  Unit.NEGOTIATED_RELEASE |
  Unit.HALF_DUPLEX |
  Unit.DUPLEX |
  Unit.EXPEDITED |
  Unit.TYPED_DATA |
  Unit.CAPABILITY_DATA |
  Unit.MINOR_SYNCHRONIZE |
  Unit.SYMMETRIC_SYNCHRONIZE |
  Unit.DATA_SEPARATION |
  Unit.MAJOR_SYNCHRONIZE |
  Unit.RESYNCHRONIZE |
  Unit.EXCEPTIONS |
  Unit.ACTIVITY_MANAGEMENT;

/** What a connect request proposes when the application does not say. */
export const DEFAULT_UNITS = Unit.KERNEL | Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA;

const ALL_BITS = Object.values(Unit).reduce((a, b) => a | b, 0);

/** Bits with no meaning yet; a peer setting them is not an error (forward compatible), they are dropped. */
export function knownUnits(bits: number): number {
  return bits & ALL_BITS;
}

/**
 * The units both sides get: the intersection of the proposal, the responder's wishes and what is
 * implemented, with kernel always in. Returns null when no dialogue mode is left (a session needs
 * duplex or half-duplex to carry normal data).
 */
export function negotiateUnits(proposed: number, acceptable: number): number | null {
  let agreed = (proposed & acceptable & IMPLEMENTED_UNITS) | Unit.KERNEL;
  if ((agreed & (Unit.DUPLEX | Unit.HALF_DUPLEX)) === 0) return null;
  // X.225: exactly one dialogue mode; offered both, the responder's choice is duplex.
  if ((agreed & Unit.DUPLEX) !== 0) agreed &= ~Unit.HALF_DUPLEX;
  // Data separation is a kind of minor sync point: it needs a synchronize unit.
  if ((agreed & (Unit.MINOR_SYNCHRONIZE | Unit.SYMMETRIC_SYNCHRONIZE)) === 0) agreed &= ~Unit.DATA_SEPARATION;
  // Exception reports come from the side without the data token: half-duplex only.
  if ((agreed & Unit.HALF_DUPLEX) === 0) agreed &= ~Unit.EXCEPTIONS;
  // Capability data is exchanged outside activities: it needs activity management.
  if ((agreed & Unit.ACTIVITY_MANAGEMENT) === 0) agreed &= ~Unit.CAPABILITY_DATA;
  return agreed;
}

export function unitNames(bits: number): UnitName[] {
  return (Object.keys(Unit) as UnitName[]).filter((name) => (bits & Unit[name]) !== 0);
}

export function unitsFromNames(names: readonly string[]): number {
  let bits = Unit.KERNEL;
  for (const raw of names) {
    const key = raw.toUpperCase().replace(/-/g, '_') as UnitName;
    const bit = Unit[key];
    if (bit === undefined) throw new RangeError(`unknown functional unit: ${raw}`);
    bits |= bit;
  }
  return bits;
}

export function hasUnit(bits: number, unit: number): boolean {
  return (bits & unit) !== 0;
}
