/**
 * Initial token assignment and initial serial number, negotiated at establishment through the
 * INITIAL_TOKENS and INITIAL_SERIAL extensions (docs/PROTOCOL.md). Without them the initiator
 * holds every available token and serial numbers start at 0.
 */
import { AbortCode, ErrorCode, ProtocolError, UsageError } from '../errors.js';
import { type Extension, ExtensionId } from '../wire/frame.js';
import { SERIAL_MAX } from './dialogue.js';

export interface DialogueProposal {
  /** Tokens the initiator gives the responder from the start. */
  assign: number;
  /** Tokens the responder may choose to take (X.225 "responder chooses"). */
  choose: number;
  serial: number;
  /** Whether CONNECT carried either extension (ACCEPT answers only then: older peers see nothing new). */
  present: boolean;
}

export interface DialogueOptions {
  /** Tokens the responder holds from the start. */
  responderTokens?: number;
  /** Tokens the responder may take if it wishes (its accept decides). */
  responderChooses?: number;
  initialSerial?: number;
}

export function dialogueConnectExtensions(o: DialogueOptions): Extension[] {
  const out: Extension[] = [];
  const assign = o.responderTokens ?? 0;
  const choose = (o.responderChooses ?? 0) & ~assign;
  if ((assign | choose) & ~0x0f) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'unknown token bits');
  if (assign !== 0 || choose !== 0) out.push({ id: ExtensionId.INITIAL_TOKENS, value: Uint8Array.of(assign, choose) });
  if (o.initialSerial !== undefined) {
    const serial = o.initialSerial;
    if (!Number.isInteger(serial) || serial < 0 || serial > SERIAL_MAX) {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `initial serial ${serial} is not in 0..${SERIAL_MAX}`);
    }
    out.push({ id: ExtensionId.INITIAL_SERIAL, value: u32(serial) });
  }
  return out;
}

/** The initiator's proposal as the responder reads it from CONNECT. Malformed values are ignored (defaults). */
export function dialogueProposal(extensions: readonly Extension[]): DialogueProposal {
  const tokens = extensions.find((e) => e.id === ExtensionId.INITIAL_TOKENS)?.value;
  const serial = extensions.find((e) => e.id === ExtensionId.INITIAL_SERIAL)?.value;
  const ok = tokens?.byteLength === 2;
  return {
    assign: ok ? (tokens[0] as number) & 0x0f : 0,
    choose: ok ? (tokens[1] as number) & 0x0f : 0,
    serial: serial?.byteLength === 4 ? readU32(serial) : 0,
    present: tokens !== undefined || serial !== undefined,
  };
}

export function dialogueAcceptExtensions(responderTokens: number, serial: number): Extension[] {
  return [
    { id: ExtensionId.INITIAL_TOKENS, value: Uint8Array.of(responderTokens) },
    { id: ExtensionId.INITIAL_SERIAL, value: u32(serial) },
  ];
}

/** Initiator: what the ACCEPT says, checked against what CONNECT proposed. */
export function acceptedDialogue(
  connect: readonly Extension[],
  accept: readonly Extension[],
): { responderTokens: number; serial: number } {
  const proposal = dialogueProposal(connect);
  const tokens = accept.find((e) => e.id === ExtensionId.INITIAL_TOKENS)?.value;
  const serial = accept.find((e) => e.id === ExtensionId.INITIAL_SERIAL)?.value;
  let responderTokens = proposal.assign;
  if (tokens !== undefined) {
    if (tokens.byteLength !== 1) throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'INITIAL_TOKENS of the wrong size');
    responderTokens = tokens[0] as number;
    if ((responderTokens & ~(proposal.assign | proposal.choose)) !== 0 || (proposal.assign & ~responderTokens) !== 0) {
      throw new ProtocolError(AbortCode.TOKEN_VIOLATION, 'the responder took tokens it was not offered');
    }
  }
  let agreedSerial = proposal.serial;
  if (serial !== undefined) {
    if (serial.byteLength !== 4) throw new ProtocolError(AbortCode.MALFORMED_FRAME, 'INITIAL_SERIAL of the wrong size');
    agreedSerial = readU32(serial);
    if (agreedSerial !== proposal.serial) {
      throw new ProtocolError(AbortCode.SYNC_VIOLATION, 'the responder changed the initial serial number');
    }
  }
  return { responderTokens, serial: agreedSerial };
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

function readU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
}
