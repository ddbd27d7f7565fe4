/**
 * @liaison/node/transport: the byte transports and the per-address guard under the Node API, for
 * tools that run a liaison Connection over their own sockets (docs/API.md).
 */
export { AddressGuard, type AttackLimits, addressKey } from './rate-limit.js';
export { type PeerCertificateInfo, TlsTransport } from './tls-transport.js';
export { TcpTransport, type Transport, type TransportHandlers, type TransportKind } from './transport.js';
export { WS_MESSAGE_BYTES_MAX, WsTransport } from './ws-transport.js';
