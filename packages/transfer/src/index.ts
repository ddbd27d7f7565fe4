/**
 * @liaison/transfer: resumable file transfer over liaison sessions, built on the public API only.
 *
 *   const receiver = await Receiver.open('/srv/incoming');
 *   const server = await listen('tcp://0.0.0.0:7000', { onConnect: Receiver.accept });
 *   for await (const session of server) void receiver.handle(session, 'peer');
 *
 *   await sendFiles('tcp://host:7000', ['big.iso'], { syncEveryBytes: 4 << 20 });
 */
export { TransferError, TransferErrorCode } from './errors.js';
export { type FileIdentity, type FileRecord, JOURNAL_DIR, Journal } from './journal.js';
export { checkFileName, FILE_NAME_BYTES_MAX } from './names.js';
export { Receiver, type ReceiverEvent, type ReceiverOptions } from './receiver.js';
export {
  DEFAULT_SYNC_EVERY_BYTES,
  type SenderEvent,
  type SendOptions,
  type SendResult,
  sendFiles,
  TRANSFER_UNITS,
} from './sender.js';
export type { ActivitySession, SyncResult } from './session-api.js';
export { formatBytes, parseByteSize } from './size.js';
